// Entry points of the sync workflows: one account at a time, IMAP or POP3 by its protocol.
#pragma once

#include "sync/imap_sync.hpp"

namespace mv::sync {

account_report sync_pop3_account(const config::account& acct, shared_archive& ar,
                                 const sync_options& opts);

// Dispatches on acct.protocol. Never throws for account-level failures: they are in report.err.
account_report sync_account(const config::account& acct, shared_archive& ar,
                            const sync_options& opts);

}  // namespace mv::sync
