# Embeds the generator's lists (data/generate/*.tsv) into one translation unit.
set(names surnames given_names yamanashi_towns yamanashi_counties generic_towns)
file(WRITE "${OUT}" "// Generated from ${DIR}; do not edit.\n#include <string_view>\n")
foreach(n IN LISTS names)
  set(IN "${DIR}/${n}.tsv")
  set(SYMBOL "kGen_${n}")
  set(APPEND ON)
  include(${CMAKE_CURRENT_LIST_DIR}/embed_text.cmake)
endforeach()
