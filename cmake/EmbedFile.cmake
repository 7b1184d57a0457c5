# Writes OUTPUT: a .cc defining `const char SYMBOL[]` (the bytes of INPUT, NUL-terminated) and
# SYMBOL_size. Bytes are char literals ('\xe2'), so any byte (UTF-8 text included) embeds without
# a narrowing conversion.
file(READ ${INPUT} hex HEX)
set(bs "\\")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'${bs}${bs}x\\1'," bytes "${hex}")
file(WRITE ${OUTPUT} "// Generated from ${INPUT}. Do not edit.\n#include <cstddef>\nextern const char ${SYMBOL}[];\nextern const std::size_t ${SYMBOL}_size;\nconst char ${SYMBOL}[] = {${bytes} 0x00};\nconst std::size_t ${SYMBOL}_size = sizeof(${SYMBOL}) - 1;\n")
