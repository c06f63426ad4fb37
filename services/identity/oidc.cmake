# The built-in OpenID Connect issuer (docs/adr/0009): rules without I/O, then the issuer's use
# cases, SQL and HTTP handlers. Included from services/identity/CMakeLists.txt.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)

trellis_module(identity_oidc_domain
  SRCS domain/oidc_authorize.cpp domain/oidc_keys.cpp domain/sign_in_throttle.cpp
  DEPS trellis::core
  TESTS domain/oidc_authorize_test.cpp domain/oidc_keys_test.cpp
        domain/sign_in_throttle_test.cpp)
