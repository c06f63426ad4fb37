// Lets clang 16 see libstdc++ 12's std::expected (it tests __cpp_concepts >= 202002L,
// which clang 16 supports but does not advertise). Force-included by scripts/lint only.
#undef __cpp_concepts
#define __cpp_concepts 202002L
