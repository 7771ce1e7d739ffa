# Turns a file into a C++ translation unit defining
#   extern const std::string_view <SYMBOL>;
# Usage: cmake -DIN=file -DOUT=file.cc -DSYMBOL=name [-DAPPEND=ON] -P embed_text.cmake
# The bytes are written as an array, so no compiler ever sees (or mis-splits) UTF-8 in a literal.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)"
       "\\1\n" bytes "${bytes}")
set(body "static const unsigned char ${SYMBOL}_data[] = {\n${bytes}0x00};\nextern const std::string_view ${SYMBOL}(reinterpret_cast<const char*>(${SYMBOL}_data), sizeof(${SYMBOL}_data) - 1);\n")
if(APPEND)
  file(APPEND "${OUT}" "namespace kakunin {\n${body}}  // namespace kakunin\n")
else()
  file(WRITE "${OUT}" "// Generated from ${IN}; do not edit.\n#include <string_view>\nnamespace kakunin {\n${body}}  // namespace kakunin\n")
endif()
