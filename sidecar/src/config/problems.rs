//! Every problem in a config, named by field: the contract crate's type, so
//! the operator reports a refused config in the same words as the sidecar.

pub use portcullis_contract::problems::{Problem, Problems};
