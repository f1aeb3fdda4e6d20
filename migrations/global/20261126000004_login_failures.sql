-- Failed sign-ins, for rate limiting per account and per client address
-- (rows older than the window are deleted as new ones come).
CREATE TABLE login_failures (
    id    bigserial PRIMARY KEY,
    email text NOT NULL,
    ip    text,
    at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_at ON login_failures (email, at);
CREATE INDEX login_failures_ip_at ON login_failures (ip, at);
