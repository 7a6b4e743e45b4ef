// The ceiling of the bulk-fetch benchmark (not a test): a minimal pipelined IMAP client that
// downloads every message of every folder and writes nothing. It logs in, LISTs, and per folder
// sends EXAMINE and one UID FETCH 1:<UIDNEXT-1> (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[]),
// streaming the bodies into a sink that only counts them. Whatever mailvault sync does beyond
// this (hashing, compressing, committing, indexing) is what separates it from this figure.
//
//   mailvault_bench_raw_pull --port P --user U --password-file F [--host 127.0.0.1]
//                            [--tls plain|implicit] [--ca FILE] [--compress]
//
// --tls implicit (or imaps): TLS from the first byte (the IMAPS port), the certificate checked as
// mailvault does it (mv::net::connection with tls_mode::implicit; --ca adds trust anchors, like
// an account's ca_file); plain is the default.
// Prints one JSON line:
// {"messages":N,"bytes":B,"folders":K,"seconds":S,"wire_bytes":W,"tls":true|false}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "imap/client.hpp"
#include "imap/writer.hpp"
#include "mailvault/net.hpp"

namespace {

// Counts bodies and FETCH responses; keeps nothing.
class counting_sink : public mv::imap::fetch_sink {
public:
    std::uint64_t bytes = 0;
    std::uint64_t messages = 0;
    void body_begin(std::uint32_t, std::string_view, std::uint64_t) override {}
    void body_data(std::string_view b) override { bytes += b.size(); }
    void body_end() override { ++messages; }
    void on_fetch(const mv::imap::fetch_attrs&) override {}
};

[[noreturn]] void die(const std::string& what, const mv::error& e) {
    std::fprintf(stderr, "raw_pull: %s: %s\n", what.c_str(), e.message.c_str());
    std::exit(1);
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: mailvault_bench_raw_pull --port P --user U --password-file F "
                 "[--host H] [--tls plain|implicit|imaps] [--ca FILE] [--compress]\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    mv::net::endpoint ep;
    ep.host = "127.0.0.1";
    ep.tls = mv::net::tls_mode::plain;
    std::string user, password_file;
    bool compress = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--host")
            ep.host = next();
        else if (a == "--port")
            ep.port = static_cast<std::uint16_t>(std::stoi(next()));
        else if (a == "--user")
            user = next();
        else if (a == "--password-file")
            password_file = next();
        else if (a == "--ca")
            ep.tls_opts.ca_file = next();
        else if (a == "--compress")
            compress = true;
        else if (a == "--tls") {
            const auto m = next();
            if (m == "implicit" || m == "imaps")
                ep.tls = mv::net::tls_mode::implicit;
            else if (m == "plain")
                ep.tls = mv::net::tls_mode::plain;
            else
                usage();
        } else
            usage();
    }
    if (!ep.port || user.empty() || password_file.empty()) usage();
    std::string password;
    {
        std::ifstream f(password_file);
        std::getline(f, password);
    }

    const auto t0 = std::chrono::steady_clock::now();
    mv::error err;
    auto conn = mv::net::connection::open(ep, err);
    if (!conn) die("connect", err);
    mv::imap::client c(*conn);
    if (auto e = c.greeting()) die("greeting", e);
    if (c.caps().empty())
        if (auto e = c.capability()) die("CAPABILITY", e);
    if (auto e = c.login(user, password)) die("LOGIN", e);
    if (compress)
        if (auto e = c.compress()) die("COMPRESS", e);
    std::vector<mv::imap::list_entry> folders;
    mv::imap::list_request lr;
    if (auto e = c.list(lr, folders)) die("LIST", e);

    counting_sink sink;
    std::size_t selected = 0;
    for (const auto& f : folders) {
        if (f.has_attribute("\\Noselect") || f.has_attribute("\\NonExistent")) continue;
        mv::imap::select_request sel;
        sel.mailbox = mv::imap::decode_mailbox_name(f.name, c.state().utf8);
        sel.read_only = true;
        mv::imap::select_result sr;
        if (auto e = c.select(sel, sr)) die("EXAMINE " + sel.mailbox, e);
        ++selected;
        const std::uint32_t top = sr.state.uidnext.value_or(1) - 1;
        if (!sr.state.exists.value_or(0) || top == 0) continue;
        mv::imap::fetch_request fq;
        fq.sets.push_back(mv::imap::uid_set{{{1, top}}});
        if (auto e = c.uid_fetch(fq, sink)) die("UID FETCH " + sel.mailbox, e);
    }
    c.logout();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "{\"messages\":%llu,\"bytes\":%llu,\"folders\":%zu,\"seconds\":%.3f,\"wire_bytes\":%llu,"
        "\"tls\":%s}\n",
        static_cast<unsigned long long>(sink.messages), static_cast<unsigned long long>(sink.bytes),
        selected, secs, static_cast<unsigned long long>(conn->counters().wire_read),
        conn->tls_active() ? "true" : "false");
    return 0;
}
