file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUTPUT} "// Generated from ${INPUT}. Do not edit.\n#include <cstddef>\nextern const char ${SYMBOL}[];\nextern const std::size_t ${SYMBOL}_size;\nconst char ${SYMBOL}[] = {${bytes} 0x00};\nconst std::size_t ${SYMBOL}_size = sizeof(${SYMBOL}) - 1;\n")
