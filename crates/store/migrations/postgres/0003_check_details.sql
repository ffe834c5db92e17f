-- The report's advice and details (scopes, rate-limit headroom, token expiry, sub-checks) kept
-- with each result, so the service page shows them after a reload and rules that read them
-- (credential expiry, rate-limit headroom) work from stored results. Both optional: rows
-- written before this migration have neither.
ALTER TABLE check_results ADD COLUMN hint TEXT;
ALTER TABLE check_results ADD COLUMN details TEXT;
