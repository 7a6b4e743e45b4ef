// Helpers shared by subcommands: the --config/--archive options, loading the config and opening
// the archive with one-line errors.
#pragma once

#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "mailvault/config.hpp"

namespace mv::cli {

namespace po = boost::program_options;

// Adds --config PATH and --archive PATH.
void add_archive_options(po::options_description& d);

// Parses args against `d` (positional names optional); throws po::error on bad usage.
po::variables_map parse(const std::vector<std::string>& args, const po::options_description& d,
                        const po::positional_options_description* pos = nullptr);

// The config from --config (or the default path). Throws mv::failure(config).
config::config load_config(const po::variables_map& vm);

// The accounts named by --account (each must exist in the config: a usage error otherwise).
std::vector<const config::account*> accounts_named(const config::config& cfg,
                                                   const std::vector<std::string>& names);

// The archive path: --archive, else the config's `archive` (config loaded only if needed).
std::filesystem::path archive_path(const po::variables_map& vm);

// Opens the archive; `create` makes it if missing. A missing archive without `create` is a
// one-line archive error saying to run `mailvault sync` first.
std::unique_ptr<archive::archive> open_archive(const std::filesystem::path& p, bool create,
                                               bool read_only, int zstd_level = 3,
                                               bool defer_index = false);

// For commands that read the search index (search, show): the archive with every stored message
// indexed. Sync stores messages without indexing them (the MIME parse and FTS5 insert cost more
// than the rest of the ingest together); the first reader indexes what is pending, when it may
// write the file. Read-only files are searched as they are.
std::unique_ptr<archive::archive> open_indexed(const std::filesystem::path& p);

bool stderr_is_tty();

// One line on stderr (a warning, not an error) when the archive file, its -wal/-shm or its
// directory can be read by other users, saying how to fix it (archive::exposure_warning).
void warn_if_exposed(const std::filesystem::path& archive_path);

}  // namespace mv::cli

namespace mv::cli {

// Columns on a terminal, whatever the script: cells are padded by their display width (wide CJK
// characters count two, combining marks zero; invalid UTF-8 counts a column a byte), not bytes.
std::size_t display_width(std::string_view utf8);
struct table {
    std::vector<std::string> header;
    std::vector<bool> right;  // right-align this column (numbers)
    std::vector<std::vector<std::string>> rows;
    void print(std::FILE* out) const;
};

}  // namespace mv::cli
