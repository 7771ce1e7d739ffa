# Turns a text file into a C++ translation unit defining
#   extern const std::string_view <SYMBOL>;
# Usage: cmake -DIN=file -DOUT=file.cc -DSYMBOL=name [-DAPPEND=ON] -P embed_text.cmake
# The text is split into raw-string chunks below the compilers' literal limits.
file(READ "${IN}" content)
string(LENGTH "${content}" len)
set(chunks "")
set(pos 0)
while(pos LESS len)
  string(SUBSTRING "${content}" ${pos} 8000 chunk)
  string(APPEND chunks "R\"KAKUNIN_EMBED(${chunk})KAKUNIN_EMBED\"\n")
  math(EXPR pos "${pos} + 8000")
endwhile()
set(body "static const char ${SYMBOL}_data[] =\n${chunks};\nextern const std::string_view ${SYMBOL}(${SYMBOL}_data, sizeof(${SYMBOL}_data) - 1);\n")
if(APPEND)
  file(APPEND "${OUT}" "namespace kakunin {\n${body}}  // namespace kakunin\n")
else()
  file(WRITE "${OUT}" "// Generated from ${IN}; do not edit.\n#include <string_view>\nnamespace kakunin {\n${body}}  // namespace kakunin\n")
endif()
