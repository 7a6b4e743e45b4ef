// `mailvault debug parse-imap FILE`: frames and parses recorded IMAP server output, one line per
// response; exits 7 (protocol) at the first error, 2 on bad usage.
#include <fstream>
#include <iostream>

#include "cli.hpp"
#include "imap/debug_parse.hpp"

MV_COMMAND("debug parse-imap", "parse a file of IMAP server output and print one line per response",
           [](const std::vector<std::string>& args) -> int {
               if (args.size() != 1) {
                   std::cerr << "usage: mailvault debug parse-imap FILE\n";
                   return mv::cli::exit_usage;
               }
               std::ifstream in(args[0], std::ios::binary);
               if (!in) {
                   std::cerr << "mailvault: cannot open " << args[0] << "\n";
                   return mv::cli::exit_usage;
               }
               return mv::imap::debug_parse(in, std::cout) == 0 ? mv::cli::exit_ok
                                                                : mv::cli::exit_protocol;
           });
