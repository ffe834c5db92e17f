//! Wiremock tests: exact requests and parsed results.
