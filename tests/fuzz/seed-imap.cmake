# cmake -DSRC=<transcript dir> -DOUT=<seed dir> -P seed-imap.cmake
# Each transcript *.txt becomes one seed: LF converted to CRLF, "A########" replaced by a tag, and
# a leading byte choosing the chunk size ("O": 80-byte chunks). Seeds over 1 MiB are skipped.
file(MAKE_DIRECTORY ${OUT})
file(GLOB_RECURSE files ${SRC}/*.txt)
foreach(f ${files})
  file(SIZE ${f} sz)
  if(sz GREATER 1048576)
    continue()
  endif()
  file(READ ${f} text)
  string(REPLACE "\r\n" "\n" text "${text}")
  string(REPLACE "\n" "\r\n" text "${text}")
  string(REPLACE "A########" "A0001" text "${text}")
  file(RELATIVE_PATH rel ${SRC} ${f})
  string(REPLACE "/" "_" name "${rel}")
  file(WRITE ${OUT}/${name} "O${text}")
endforeach()
