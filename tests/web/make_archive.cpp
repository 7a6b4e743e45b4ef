// mv_web_fixture ARCHIVE FILE.eml... : a test archive for the web viewer's tests. Creates the
// archive, an IMAP account "work" with the folders INBOX and Archive/2024 and a POP3 account
// "home", and files each message: names starting with "pop-" go to home's INBOX (UIDL = the
// file name), "old-" to work's Archive/2024, the rest to work's INBOX (UIDs from 1). Every
// message is indexed for search. Prints one line per entry: "ENTRY_ID FILE".
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "archive/archive.hpp"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: mv_web_fixture ARCHIVE FILE.eml...\n");
        return 2;
    }
    try {
        mv::archive::options o;
        o.create = true;
        mv::archive::archive a(argv[1], o);
        mv::archive::transaction t(a);
        auto work = a.upsert_account({"work", "imap", "imap.example.org", "alice"});
        auto home = a.upsert_account({"home", "pop3", "pop.example.org", "alice"});
        auto inbox = a.upsert_mailbox({work, "INBOX", "INBOX", "/", std::nullopt});
        auto old = a.upsert_mailbox({work, "Archive/2024", "Archive/2024", "/", std::nullopt});
        auto pop = a.upsert_mailbox({home, "INBOX", "INBOX", std::nullopt, std::nullopt});
        a.set_watermarks(inbox.id, {1000, std::nullopt, std::nullopt, std::nullopt});
        a.set_watermarks(old.id, {2000, std::nullopt, std::nullopt, std::nullopt});
        std::uint32_t uid_inbox = 0, uid_old = 0;
        std::int64_t date = 1700000000;
        for (int i = 2; i < argc; ++i) {
            std::ifstream f(argv[i], std::ios::binary);
            std::stringstream ss;
            ss << f.rdbuf();
            std::string raw = ss.str();
            auto put = a.put_content(raw);
            std::string name = std::filesystem::path(argv[i]).filename().string();
            mv::archive::entry_record e;
            e.size = raw.size();
            e.content = put.hash;
            e.internaldate = date += 3600;
            e.flags = {"\\Seen"};
            if (name.rfind("pop-", 0) == 0) {
                e.mailbox_id = pop.id;
                e.uidl = name;
                e.flags.clear();
            } else {
                bool is_old = name.rfind("old-", 0) == 0;
                e.mailbox_id = is_old ? old.id : inbox.id;
                e.uidvalidity = is_old ? 2000u : 1000u;
                e.uid = is_old ? ++uid_old : ++uid_inbox;
            }
            a.upsert_entry(e);
        }
        t.commit();
        a.index_pending();
        // The entry ids, for the tests.
        mv::archive::entry_filter all;
        a.for_each_located_entry(all, [&](const mv::archive::located_entry& le) {
            std::cout << le.entry.id << " " << le.account << "/" << le.mailbox << " "
                      << (le.entry.uid ? std::to_string(*le.entry.uid) : *le.entry.uidl) << "\n";
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mv_web_fixture: %s\n", e.what());
        return 1;
    }
    return 0;
}
