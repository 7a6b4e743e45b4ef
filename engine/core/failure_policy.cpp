#include "mailvault/failure_policy.hpp"

namespace mv {

failure_decision classify_failure(operation_kind op, errc code) noexcept {
    using s = failure_scope;
    switch (code) {
        case errc::ok: return {s::message, false};
        // The archive or the configuration is unusable: nothing else can be done safely.
        case errc::config:
        case errc::usage:
        case errc::archive:
        case errc::archive_corrupt:
        case errc::cancelled:
        case errc::internal: return {s::run, false};
        case errc::io: return {op == operation_kind::local_io ? s::run : s::account, false};
        // Credentials and certificates do not get better by retrying.
        case errc::auth:
        case errc::tls_certificate:
        case errc::tls_hostname:
        case errc::tls_handshake:
        case errc::unsupported: return {s::account, false};
        // A dead connection: reconnect and resume the same folder from its watermarks.
        case errc::network:
        case errc::timeout:
        case errc::closed: return {s::account, true};
        // The server broke the protocol: the stream cannot be trusted any further, except for a
        // single answer that failed our own checks, which costs that message only.
        case errc::protocol:
        case errc::limit:
            return {op == operation_kind::verify_answer ? s::message : s::account, false};
        // A refused command costs what it was about.
        case errc::server_no:
        case errc::server_bad:
            switch (op) {
                case operation_kind::connect:
                case operation_kind::authenticate:
                case operation_kind::list: return {s::account, false};
                case operation_kind::append: return {s::message, false};
                case operation_kind::fetch:
                case operation_kind::verify_answer:
                case operation_kind::store:
                case operation_kind::expunge:
                case operation_kind::select:
                case operation_kind::search:
                case operation_kind::status: return {s::folder, false};
                case operation_kind::archive_write:
                case operation_kind::archive_read:
                case operation_kind::local_io: return {s::run, false};
            }
            return {s::folder, false};
    }
    return {s::account, false};
}

const char* failure_scope_name(failure_scope sc) noexcept {
    switch (sc) {
        case failure_scope::message: return "message";
        case failure_scope::folder: return "folder";
        case failure_scope::account: return "account";
        case failure_scope::run: return "run";
    }
    return "?";
}

const char* operation_name(operation_kind op) noexcept {
    switch (op) {
        case operation_kind::connect: return "connect";
        case operation_kind::authenticate: return "authenticate";
        case operation_kind::list: return "list";
        case operation_kind::status: return "status";
        case operation_kind::select: return "select";
        case operation_kind::fetch: return "fetch";
        case operation_kind::search: return "search";
        case operation_kind::verify_answer: return "verify-answer";
        case operation_kind::store: return "store";
        case operation_kind::expunge: return "expunge";
        case operation_kind::append: return "append";
        case operation_kind::archive_write: return "archive-write";
        case operation_kind::archive_read: return "archive-read";
        case operation_kind::local_io: return "local-io";
    }
    return "?";
}

}  // namespace mv
