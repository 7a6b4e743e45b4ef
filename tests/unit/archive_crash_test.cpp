// kill -9 during a bulk insert leaves an archive that opens and verifies.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "archive/archive.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;

TEST_CASE("archive: kill -9 during bulk insert leaves a consistent archive", "[archive][crash]") {
    char tmpl[] = "/tmp/mv-archive-XXXXXX";
    fs::path dir = mkdtemp(tmpl);
    auto db = dir / "a.mvault";
    {
        options o;
        o.create = true;
        archive a(db, o);
        a.upsert_account({"w", "imap", "h", "u"});
    }
    for (int round = 0; round < 3; ++round) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            try {
                options o;
                o.dictionary.min_messages = 300;
                archive a(db, o);
                auto acc = *a.find_account("w");
                auto mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
                a.set_watermarks(mb.id, {1, std::nullopt, std::nullopt, std::nullopt});
                for (std::uint32_t i = 1;;) {
                    transaction tx(a);
                    for (int k = 0; k < 20; ++k) {
                        ++i;
                        std::string m = "Subject: message " + std::to_string(round) + "-" +
                                        std::to_string(i) + "\r\nFrom: a@b\r\n\r\n" +
                                        std::string(100 + (i * 37) % 3000, 'x') + "\r\n";
                        auto h = a.put_content(m).hash;
                        a.upsert_entry({mb.id,
                                        1,
                                        round * 1000000u + i,
                                        std::nullopt,
                                        {},
                                        std::nullopt,
                                        1,
                                        m.size(),
                                        h});
                        a.audit_append("store", "{\"uid\":" + std::to_string(i) + "}");
                    }
                    a.set_watermarks(
                        mb.id, {1, std::nullopt, std::nullopt, round * 1000000u + i});  // last uid
                    tx.commit();
                }
            } catch (...) {
            }
            _exit(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300 + round * 150));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        REQUIRE(WIFSIGNALED(status));
        archive a(db);
        auto rep = a.verify();
        for (const auto& p : rep.problems) UNSCOPED_INFO(p.what);
        CHECK(rep.ok());
        auto tot = a.totals();
        CHECK(tot.contents == tot.entries);
        CHECK(tot.contents > 0);
        // The watermark and the messages it describes are committed together.
        auto mb = a.find_mailbox(*a.find_account("w"), "INBOX");
        REQUIRE(mb);
        auto list = a.list_entries(mb->id);
        REQUIRE(!list.empty());
        CHECK(mb->last_uid == list.back().uid);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
}
