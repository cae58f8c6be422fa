//! The command line (placeholder until the CLI is written).
