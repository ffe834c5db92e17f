//! moto tests.
