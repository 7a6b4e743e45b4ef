// Protocol traces (`--trace FILE`): every command and response of every IMAP and POP3 connection,
// one line each, with credentials and message contents redacted.
//
// Flow: the CLI calls trace::open(path) once -> whoever opens a connection asks
// trace::for_imap()/for_pop3() for a recorder (nullptr when tracing is off) and hands it to the
// runner (net::connection::set_recorder) -> the runner reports every application-level byte it
// wrote or read (after TLS, after inflate) and events (TLS started, COMPRESS started, closed) ->
// the recorder cuts the bytes into protocol lines, redacts, and appends them to the file.
//
// What is never written: passwords, SASL exchanges (LOGIN arguments, AUTHENTICATE initial and
// later responses, POP3 PASS/APOP digest/AUTH), the bytes of literals in FETCH responses and
// APPEND commands (message headers and bodies), POP3 RETR/TOP bodies. Each redaction says how
// many bytes it hid, so the trace still shows the shape of the conversation.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace mv::trace {

enum class direction { sent, received };

// What the runner calls; implementations do their own framing (bytes arrive in any split).
class recorder {
public:
    virtual ~recorder() = default;
    virtual void bytes(direction d, std::string_view data) = 0;
    virtual void event(std::string_view what) = 0;  // "TLS established", "closed" ...
};

// Opens (appends to) the trace file, created 0600 whatever the umask; throws mv::failure
// (errc::io) when it cannot. Tracing stays on for the rest of the process.
void open(const std::filesystem::path& path);
bool enabled();

// A recorder writing to the trace file, or nullptr when tracing is off. `label` names the
// connection in the file header line ("account 'work' imap 127.0.0.1:993").
std::unique_ptr<recorder> for_imap(const std::string& label);
std::unique_ptr<recorder> for_pop3(const std::string& label);

// The redacting line cutters behind those recorders, writing lines ("C: ..." / "S: ..." /
// "-- event") to `out`. Pure: the unit tests feed them conversations split at every byte.
using line_out = std::function<void(std::string_view line)>;
std::unique_ptr<recorder> imap_redactor(line_out out);
std::unique_ptr<recorder> pop3_redactor(line_out out);

}  // namespace mv::trace
