# The built-in OpenID Connect issuer (docs/adr/0009): rules without I/O, then the issuer's use
# cases, SQL and HTTP handlers. Included from services/identity/CMakeLists.txt.
find_package(PkgConfig REQUIRED)
if(NOT TARGET PkgConfig::SODIUM)
  pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
endif()

trellis_module(identity_oidc_domain
  SRCS domain/oidc_authorize.cpp domain/oidc_keys.cpp domain/sign_in_throttle.cpp
  DEPS trellis::core
  TESTS domain/oidc_authorize_test.cpp domain/oidc_keys_test.cpp
        domain/sign_in_throttle_test.cpp)

trellis_module(identity_oidc
  SRCS app/oidc_crypto.cpp app/oidc_issuer.cpp store/oidc_store.cpp store/sign_in_store.cpp
       store/sql_refresh_families.cpp
       api/oidc_form.cpp api/oidc_pages.cpp api/oidc_routes.cpp api/console_routes.cpp
  DEPS trellis::identity_oidc_domain trellis::identity_store trellis::ports trellis::http
       trellis::auth Boost::headers
  PRIVATE_DEPS PkgConfig::SODIUM Boost::json
  TESTS app/oidc_crypto_test.cpp app/oidc_issuer_test.cpp api/oidc_pages_test.cpp
        api/oidc_routes_test.cpp store/sql_refresh_families_test.cpp
  TEST_DEPS trellis::sqlite trellis::store Boost::json PkgConfig::SODIUM)

if(TRELLIS_TESTS)
  # The embedded adapter of the token store's refresh families, on both engines.
  target_link_libraries(sql_refresh_families_test PRIVATE trellis::sql_engines
                                                          trellis_refresh_families_contract)
  foreach(t oidc_issuer_test oidc_routes_test)
    target_compile_definitions(${t} PRIVATE
      TRELLIS_IDENTITY_MIGRATIONS="${CMAKE_CURRENT_SOURCE_DIR}/migrations")
  endforeach()
endif()
