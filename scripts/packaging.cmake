# Install rules and the Debian package (CPack DEB) for mailvault.
#
# Included once from the top-level CMakeLists.txt, after the option() lines and before the first
# target (its hardening flags apply to targets defined later; install rules and CPack work from
# anywhere). It refers to no target, so -DCMAKE_PROJECT_INCLUDE=.../scripts/packaging.cmake
# works too. The binary's own install(TARGETS mailvault) rule stays in CMakeLists.txt.
#
#   cmake --install BUILD [--prefix /usr/local]   binary, man pages, completions, units, docs
#   cpack -G DEB --config BUILD/CPackConfig.cmake  mailvault_VERSION_ARCH.deb (prefix /usr)
#
# Layout under the prefix:
#   bin/mailvault
#   share/man/man1/mailvault*.1.gz, share/man/man5/mailvault-config.5.gz   (scdoc, docs/man/*.scd)
#   share/bash-completion/completions/mailvault
#   share/zsh/vendor-completions/_mailvault
#   share/fish/vendor_completions.d/mailvault.fish
#   lib/systemd/user/mailvault-sync.{service,timer}
#   share/doc/mailvault/{README.md,*.md,config.example.toml,copyright,changelog.gz}
include_guard(GLOBAL)
include(GNUInstallDirs)

set(MV_PKG_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}/..)
cmake_path(NORMAL_PATH MV_PKG_SOURCE_DIR)
set(MV_PKG_OUT ${CMAKE_BINARY_DIR}/packaging)
set(MV_PKG_DOCDIR ${CMAKE_INSTALL_DATADIR}/doc/mailvault)

# --- Hardening of optimised builds, as Debian's dpkg-buildflags does (lintian checks it) ---
# Only effective for targets defined after this file is included: include it before the
# targets (see CMakeLists.txt). Not with the sanitizers or the fuzzer, which bring their own.
option(MAILVAULT_HARDENING "Fortified libc calls and full RELRO (-z now) in optimised builds" ON)
if(MAILVAULT_HARDENING AND NOT MAILVAULT_SANITIZE AND NOT MAILVAULT_FUZZ)
  if(NOT "${CMAKE_CXX_FLAGS} ${CMAKE_CPPFLAGS}" MATCHES "_FORTIFY_SOURCE")
    # -O0 builds would warn that _FORTIFY_SOURCE needs optimisation (an error with -Werror).
    add_compile_definitions($<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:_FORTIFY_SOURCE=2>)
  endif()
  add_link_options(LINKER:-z,relro LINKER:-z,now)
endif()

# --- Man pages: docs/man/NAME.SECTION.scd -> NAME.SECTION.gz, built by scdoc ---
find_program(MV_SCDOC scdoc)
find_program(MV_GZIP gzip)
if(MV_SCDOC AND EXISTS "${MV_SCDOC}")
  set(MV_MAN_DEFAULT ON)
else()
  set(MV_MAN_DEFAULT OFF)
endif()
option(MAILVAULT_MAN "Build and install the man pages (needs scdoc)" ${MV_MAN_DEFAULT})
if(MAILVAULT_MAN)
  if(NOT MV_SCDOC OR NOT EXISTS "${MV_SCDOC}")
    message(FATAL_ERROR "MAILVAULT_MAN is ON but scdoc was not found: install it "
                        "(apt-get install scdoc, or scripts/install-deps.sh --build) or configure "
                        "with -DMAILVAULT_MAN=OFF")
  endif()
  if(NOT MV_GZIP)
    message(FATAL_ERROR "MAILVAULT_MAN is ON but gzip was not found: install gzip")
  endif()
  file(GLOB MV_MAN_SOURCES CONFIGURE_DEPENDS ${MV_PKG_SOURCE_DIR}/docs/man/*.scd)
  set(MV_MAN_OUTPUTS)
  foreach(src ${MV_MAN_SOURCES})
    get_filename_component(page ${src} NAME_WLE)  # mailvault-sync.1
    string(REGEX MATCH "[0-9]$" section ${page})
    set(plain ${MV_PKG_OUT}/man/${page})
    set(out ${plain}.gz)
    # Two steps, so a scdoc error fails the build (a pipe would report gzip's status only).
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${MV_PKG_OUT}/man
      COMMAND sh -c "'${MV_SCDOC}' < '${src}' > '${plain}'"
      COMMAND ${MV_GZIP} -9nf ${plain}
      DEPENDS ${src}
      COMMENT "scdoc ${page}"
      VERBATIM)
    list(APPEND MV_MAN_OUTPUTS ${out})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(mailvault_man ALL DEPENDS ${MV_MAN_OUTPUTS})
endif()

# --- Shell completion and systemd user units ---
install(FILES ${MV_PKG_SOURCE_DIR}/scripts/completions/mailvault.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME mailvault)
install(FILES ${MV_PKG_SOURCE_DIR}/scripts/completions/_mailvault
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${MV_PKG_SOURCE_DIR}/scripts/completions/mailvault.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
# Debian 12 (and systemd's pkg-config `systemduserunitdir`) uses /usr/lib/systemd/user.
set(MAILVAULT_SYSTEMD_USER_UNIT_DIR lib/systemd/user CACHE STRING
    "Where systemd user units are installed, relative to the prefix")
install(FILES ${MV_PKG_SOURCE_DIR}/scripts/systemd/mailvault-sync.timer
        DESTINATION ${MAILVAULT_SYSTEMD_USER_UNIT_DIR})
# The service names the binary: /usr/bin/mailvault in the source (and the .deb), the installed
# path for any other prefix (cmake --install --prefix /usr/local).
# CPack installs with DESTDIR=staging and CMAKE_INSTALL_PREFIX=/usr, so the prefix seen here is
# always the one the binary will run from.
install(CODE "
  file(READ \"${MV_PKG_SOURCE_DIR}/scripts/systemd/mailvault-sync.service\" _mv_unit)
  string(REPLACE \"/usr/bin/mailvault\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/mailvault\"
         _mv_unit \"\${_mv_unit}\")
  file(WRITE \"${MV_PKG_OUT}/install/mailvault-sync.service\" \"\${_mv_unit}\")
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${MAILVAULT_SYSTEMD_USER_UNIT_DIR}\"
       TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"${MV_PKG_OUT}/install/mailvault-sync.service\")")
# The same for the watcher's unit (`mailvault watch`, docs/watch.md).
install(CODE "
  file(READ \"${MV_PKG_SOURCE_DIR}/scripts/systemd/mailvault-watch.service\" _mv_unit)
  string(REPLACE \"/usr/bin/mailvault\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/mailvault\"
         _mv_unit \"\${_mv_unit}\")
  file(WRITE \"${MV_PKG_OUT}/install/mailvault-watch.service\" \"\${_mv_unit}\")
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${MAILVAULT_SYSTEMD_USER_UNIT_DIR}\"
       TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"${MV_PKG_OUT}/install/mailvault-watch.service\")")

# --- Documentation, the example config, copyright and changelog ---
file(GLOB MV_DOC_FILES CONFIGURE_DEPENDS ${MV_PKG_SOURCE_DIR}/docs/*.md
     ${MV_PKG_SOURCE_DIR}/docs/*.png)  # web.md shows web-message.png
install(FILES ${MV_PKG_SOURCE_DIR}/README.md ${MV_DOC_FILES}
              ${MV_PKG_SOURCE_DIR}/docs/config.example.toml
        DESTINATION ${MV_PKG_DOCDIR})

# copyright in Debian's machine-readable format (the license text unchanged, blank lines as " .").
file(READ ${MV_PKG_SOURCE_DIR}/LICENSE MV_LICENSE_TEXT)
string(REGEX MATCH "Copyright \\(c\\) ([^\n]*)" _ "${MV_LICENSE_TEXT}")
set(MV_COPYRIGHT_HOLDER "${CMAKE_MATCH_1}")
string(STRIP "${MV_LICENSE_TEXT}" MV_LICENSE_TEXT)
string(REGEX REPLACE "\n\n" "\n.\n" MV_LICENSE_TEXT "${MV_LICENSE_TEXT}")
string(REGEX REPLACE "\n" "\n " MV_LICENSE_TEXT "${MV_LICENSE_TEXT}")
file(WRITE ${MV_PKG_OUT}/copyright
  "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
  "Upstream-Name: mailvault\n\n"
  "Files: *\n"
  "Copyright: ${MV_COPYRIGHT_HOLDER}\n"
  "License: Expat\n ${MV_LICENSE_TEXT}\n")
# The license is in `copyright` (a separate LICENSE there is lintian's extra-license-file).
install(FILES ${MV_PKG_OUT}/copyright DESTINATION ${MV_PKG_DOCDIR})

# A native package's changelog (lintian wants one); dated by SOURCE_DATE_EPOCH when set.
set(MAILVAULT_MAINTAINER "The mailvault developers <maintainers@users.noreply.r-seed-dba7a491.example>"
    CACHE STRING "Maintainer of the Debian package (Name <email>)")
string(TIMESTAMP MV_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${MV_PKG_OUT}/changelog
  "mailvault (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
  "  * Release ${PROJECT_VERSION}. See README.md for what the program does.\n\n"
  " -- ${MAILVAULT_MAINTAINER}  ${MV_CHANGELOG_DATE}\n")
if(MV_GZIP)
  add_custom_command(OUTPUT ${MV_PKG_OUT}/changelog.gz
    COMMAND ${MV_GZIP} -9nc ${MV_PKG_OUT}/changelog > ${MV_PKG_OUT}/changelog.gz
    DEPENDS ${MV_PKG_OUT}/changelog
    COMMENT "gzip changelog")
  add_custom_target(mailvault_changelog ALL DEPENDS ${MV_PKG_OUT}/changelog.gz)
  install(FILES ${MV_PKG_OUT}/changelog.gz DESTINATION ${MV_PKG_DOCDIR})
endif()

# Stripped installs (cpack, cmake --install --strip) also drop .comment and .note, as dh_strip
# does. Deferred to the end of the top-level directory, so it runs after install(TARGETS
# mailvault) wherever this file is included.
find_program(MV_OBJCOPY NAMES objcopy ${CMAKE_OBJCOPY})
if(MV_OBJCOPY)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL install CODE "
    set(_mv_bin \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/mailvault\")
    if(CMAKE_INSTALL_DO_STRIP AND EXISTS \"\${_mv_bin}\")
      execute_process(COMMAND \"${MV_OBJCOPY}\" --remove-section=.comment --remove-section=.note
                              \"\${_mv_bin}\" COMMAND_ERROR_IS_FATAL ANY)
    endif()")
endif()

# --- CPack: the Debian package ---
set(CPACK_PACKAGE_NAME mailvault)
set(CPACK_PACKAGE_VENDOR "The mailvault developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mailbox sync and archival engine (IMAP, POP3)")
set(CPACK_PACKAGE_CONTACT "${MAILVAULT_MAINTAINER}")
set(CPACK_RESOURCE_FILE_LICENSE ${MV_PKG_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR "")
set(CPACK_DEBIAN_PACKAGE_NAME mailvault)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # mailvault_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${MAILVAULT_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Runtime dependencies come from the binary's shared libraries (dpkg-shlibdeps, in dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "pass, systemd")
# The first line of the control file's Description is CPACK_PACKAGE_DESCRIPTION_SUMMARY.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "mailvault mirrors IMAP and POP3 accounts into a single SQLite archive with
zstd-compressed, content-addressed messages and a hash-chained audit log.
It verifies what it stored, searches it, exports it as Maildir, mbox or .eml,
restores or migrates it into another IMAP account, prunes servers by rules
under legal holds, and serves a read-only web viewer.
.
A systemd user timer (mailvault-sync.timer) runs `mailvault sync` every
15 minutes once enabled.")
if(NOT CPACK_DEBIAN_PACKAGE_ARCHITECTURE)
  find_program(MV_DPKG dpkg)
  if(MV_DPKG)
    execute_process(COMMAND ${MV_DPKG} --print-architecture
                    OUTPUT_VARIABLE CPACK_DEBIAN_PACKAGE_ARCHITECTURE
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
endif()
# Directories and files get Debian's usual modes regardless of the umask of the build.
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS ${CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS})
include(CPack)
