//! The HTTP API for product code and operators: built in the API issue.
