-- The change log is written and emptied at the same rate once retention
-- and compaction run (server/src/shapes/retention.rs): reclaim the space
-- of removed entries after 10 000 of them (not a fifth of the table, the
-- default, which lets a busy log's table grow far past its entries), and
-- without the cost-based pauses, so the table's size follows its entries.
-- Runs with search_path = <group schema>, public.
ALTER TABLE changes SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_cost_delay = 0
);
