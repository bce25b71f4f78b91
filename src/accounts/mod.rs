//! Accounts (to do).
