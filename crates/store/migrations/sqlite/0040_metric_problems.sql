-- Issue 14: the sections of the last collection that failed while the others were collected
-- (core's MetricProblem list as JSON: [{"section","failure","message"}]); NULL reads as none.
ALTER TABLE service_metrics ADD COLUMN problems TEXT;
