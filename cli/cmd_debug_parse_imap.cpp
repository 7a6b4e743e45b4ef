// `mailvault debug parse-imap FILE`: frames and parses recorded IMAP server output, one line per
// response; exits 7 (protocol) at the first error, 2 on bad usage.
#include <fstream>
#include <iostream>

#include "cli.hpp"
#include "common.hpp"
#include "imap/debug_parse.hpp"

namespace {

int run_debug_parse_imap(const std::vector<std::string>& args) {
    mv::cli::po::options_description d("mailvault debug parse-imap FILE");
    d.add_options()("help,h", "this help")(
        "file", mv::cli::po::value<std::string>(),
        "recorded IMAP server output (CRLF line ends, as sent); - for standard input");
    mv::cli::po::positional_options_description pos;
    pos.add("file", 1);
    auto vm = mv::cli::parse(args, d, &pos);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return mv::cli::exit_ok;
    }
    if (!vm.count("file"))
        throw mv::failure(mv::errc::usage, "debug parse-imap: give a FILE (or - for stdin)");
    const auto path = vm["file"].as<std::string>();
    if (path == "-")
        return mv::imap::debug_parse(std::cin, std::cout) == 0 ? mv::cli::exit_ok
                                                               : mv::cli::exit_protocol;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw mv::failure(mv::errc::usage, "debug parse-imap: cannot open " + path);
    return mv::imap::debug_parse(in, std::cout) == 0 ? mv::cli::exit_ok : mv::cli::exit_protocol;
}

}  // namespace

MV_COMMAND("debug parse-imap", "parse a file of IMAP server output and print one line per response",
           run_debug_parse_imap);
