// One failure policy for every workflow (IMAP sync, POP3 backup, prune, verify --against-server):
// a single table maps (what was being done, error class) to how far the failure reaches and
// whether reconnecting and resuming may help. Workflows never decide this ad hoc; the CLI maps the
// error class to the exit code (cli/cli.hpp, exit_code_for) and a run that skipped anything never
// exits 0.
#pragma once

#include "mailvault/error.hpp"

namespace mv {

enum class failure_scope {
    message,  // this message is not archived (or not deleted); the folder goes on, reported
    folder,   // this folder is skipped and reported; the account goes on
    account,  // this account stops; other accounts go on
    run,      // the whole run stops (the archive itself is unusable, bad config)
};

enum class operation_kind {
    connect,        // TCP/TLS/greeting/STARTTLS
    authenticate,   // LOGIN/AUTHENTICATE/USER+PASS/APOP
    list,           // LIST / POP3 UIDL+LIST
    status,         // STATUS / LIST-STATUS
    select,         // SELECT/EXAMINE
    fetch,          // UID FETCH of flags, sizes, headers or bodies; POP3 RETR/TOP
    search,         // UID SEARCH
    verify_answer,  // a server answer failed our checks (unasked UID, truncated body, size lie)
    store,          // UID STORE (prune)
    expunge,        // UID EXPUNGE / EXPUNGE / MOVE / POP3 DELE
    append,         // APPEND / CREATE on a restore target
    archive_write,  // a commit into the archive
    archive_read,   // reading back / re-hashing an archived copy
    local_io,       // export files, password files
};

struct failure_decision {
    failure_scope scope = failure_scope::account;
    bool reconnect = false;  // transient: reconnect, resume from committed watermarks
};

failure_decision classify_failure(operation_kind op, errc code) noexcept;

const char* failure_scope_name(failure_scope s) noexcept;
const char* operation_name(operation_kind op) noexcept;

}  // namespace mv
