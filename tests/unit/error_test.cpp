#include <catch2/catch.hpp>

#include "mailvault/error.hpp"

TEST_CASE("error: default is ok, codes have stable names") {
    mv::error e;
    CHECK_FALSE(e);
    CHECK(e.ok());
    mv::error bad(mv::errc::auth, "rejected");
    CHECK(bad);
    CHECK(std::string(mv::errc_name(bad.code)) == "auth");
    CHECK(std::string(mv::errc_name(mv::errc::archive_corrupt)) == "archive-corrupt");
}
