//! The running sidecar's live state, shared by every door and handler:
//! the current settings (swapped whole at reload), the provider's cached
//! documents, the log-out list, the backup-login budgets and the memory of
//! opened cookies. Settings are pure values built from the file; whatever
//! changes while the sidecar runs lives here.

pub mod state;
