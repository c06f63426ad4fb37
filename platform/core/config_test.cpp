#include "platform/core/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace trellis::platform::core::config {
namespace {

namespace fs = std::filesystem;

Environment Env(std::map<std::string, std::string> vars) { return Environment(std::move(vars)); }

Schema TestSchema() {
  Schema s;
  s.Add({.key = "http.port",
         .kind = Kind::kInt,
         .default_value = "8080",
         .doc = "port",
         .min = 0,
         .max = 65535});
  s.Add({.key = "http.address", .kind = Kind::kString, .default_value = "127.0.0.1"});
  s.Add({.key = "log.access", .kind = Kind::kBool, .default_value = "true"});
  s.Add({.key = "log.level",
         .kind = Kind::kEnum,
         .default_value = "info",
         .allowed = {"debug", "info"}});
  s.Add({.key = "cors.origins", .kind = Kind::kStringList, .default_value = ""});
  s.Add({.key = "db.password", .kind = Kind::kSecret, .default_value = ""});
  return s;
}

using tests::support::TempDir;

// Writes a file into the directory and returns its path.
std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto p = dir.Path() / name;
  std::ofstream(p) << text;
  return p.string();
}

TEST(ConfigTest, DefaultsApply) {
  auto c = Config::Load(TestSchema(), std::nullopt, Environment());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->Int("http.port"), 8080);
  EXPECT_EQ(c->String("http.address"), "127.0.0.1");
  EXPECT_TRUE(c->Bool("log.access"));
  EXPECT_TRUE(c->List("cors.origins").empty());
  EXPECT_EQ(c->SourceOf("http.port"), "default");
}

TEST(ConfigTest, FileOverridesDefaultsAndEnvOverridesFile) {
  TempDir dir;
  const auto file = Write(dir, "t.yaml",
                          "http:\n  port: 9000\n  address: 0.0.0.0\n"
                          "cors:\n  origins: [https://a.example, https://b.example]\n");
  auto c =
      Config::Load(TestSchema(), file, Env({{"TRELLIS_HTTP_PORT", "9100"}, {"HOME", "/root"}}));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->Int("http.port"), 9100);
  EXPECT_EQ(c->SourceOf("http.port"), "env TRELLIS_HTTP_PORT");
  EXPECT_EQ(c->String("http.address"), "0.0.0.0");
  EXPECT_EQ(c->SourceOf("http.address"), "file " + file + ":3");
  EXPECT_EQ(c->List("cors.origins"),
            (std::vector<std::string>{"https://a.example", "https://b.example"}));
}

TEST(ConfigTest, EnvListIsCommaSeparated) {
  auto c = Config::Load(TestSchema(), std::nullopt,
                        Env({{"TRELLIS_CORS_ORIGINS", "https://a.example, *"}}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->List("cors.origins"), (std::vector<std::string>{"https://a.example", "*"}));
}

TEST(ConfigTest, BadValueNamesKeySourceAndWhatIsAllowed) {
  auto c = Config::Load(TestSchema(), std::nullopt,
                        Env({{"TRELLIS_HTTP_PORT", "70000"}, {"TRELLIS_LOG_LEVEL", "loud"}}));
  ASSERT_FALSE(c);
  const auto& m = c.error().message;
  EXPECT_NE(m.find("http.port: value \"70000\" from env TRELLIS_HTTP_PORT"), std::string::npos)
      << m;
  EXPECT_NE(m.find("an integer from 0 to 65535"), std::string::npos) << m;
  EXPECT_NE(m.find("log.level: value \"loud\""), std::string::npos) << m;
  EXPECT_NE(m.find("one of: debug, info"), std::string::npos) << m;
}

TEST(ConfigTest, NonIntegerAndBadBoolAreRefused) {
  EXPECT_FALSE(Config::Load(TestSchema(), std::nullopt, Env({{"TRELLIS_HTTP_PORT", "80x"}})));
  EXPECT_FALSE(
      Config::Load(TestSchema(), std::nullopt, Env({{"TRELLIS_LOG_ACCESS", "yes please"}})));
}

TEST(ConfigTest, UnknownKeysAreErrors) {
  TempDir dir;
  const auto file = Write(dir, "t.yaml", "http:\n  prot: 1\n");
  auto c = Config::Load(TestSchema(), file, Environment());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("http.prot: unknown key in file " + file + ":2"),
            std::string::npos)
      << c.error().message;

  auto e = Config::Load(TestSchema(), std::nullopt, Env({{"TRELLIS_HTTP_PROT", "1"}}));
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("TRELLIS_HTTP_PROT: unknown"), std::string::npos);
}

TEST(ConfigTest, ConfigFileVariableIsNotAKey) {
  EXPECT_TRUE(
      Config::Load(TestSchema(), std::nullopt, Env({{"TRELLIS_CONFIG", "/etc/trellis.yaml"}})));
}

TEST(ConfigTest, InvalidYamlNamesTheLine) {
  TempDir dir;
  const auto file = Write(dir, "t.yaml", "http:\n  port: [1\n");
  auto c = Config::Load(TestSchema(), file, Environment());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("invalid YAML at line"), std::string::npos);
}

TEST(ConfigTest, MissingFileIsAnError) {
  auto c = Config::Load(TestSchema(), "/nonexistent/trellis.yaml", Environment());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("cannot read file"), std::string::npos);
}

TEST(ConfigTest, SecretFromFileIsRedactedAndReloaded) {
  TempDir dir;
  const auto secret = Write(dir, "pw", "hunter2\n");
  auto c = Config::Load(TestSchema(), std::nullopt, Env({{"TRELLIS_DB_PASSWORD_FILE", secret}}));
  ASSERT_TRUE(c) << c.error().message;
  auto s = c->SecretOf("db.password");
  EXPECT_EQ(s->Value(), "hunter2");
  const auto described = c->Describe();
  EXPECT_EQ(described.find("hunter2"), std::string::npos);
  EXPECT_NE(described.find("db.password: <redacted>"), std::string::npos) << described;

  Write(dir, "pw", "correct-horse\n");
  auto changed = c->ReloadSecrets();
  ASSERT_TRUE(changed);
  EXPECT_EQ(*changed, std::vector<std::string>{"db.password"});
  EXPECT_EQ(s->Value(), "correct-horse");  // holders see the new value

  std::filesystem::remove(secret);
  auto failed = c->ReloadSecrets();
  EXPECT_FALSE(failed);
  EXPECT_EQ(s->Value(), "correct-horse");  // old value kept
}

TEST(ConfigTest, SecretFileFromYaml) {
  TempDir dir;
  const auto secret = Write(dir, "pw", "s3cret");
  const auto file = Write(dir, "t.yaml", "db:\n  password_file: " + secret + "\n");
  auto c = Config::Load(TestSchema(), file, Environment());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->SecretOf("db.password")->Value(), "s3cret");
}

TEST(ConfigTest, UnreadableSecretFileIsAnError) {
  auto c = Config::Load(TestSchema(), std::nullopt,
                        Env({{"TRELLIS_DB_PASSWORD_FILE", "/nonexistent/pw"}}));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("db.password_file"), std::string::npos);
}

TEST(ConfigTest, EnvNames) {
  EXPECT_EQ(EnvName("http.port"), "TRELLIS_HTTP_PORT");
  EXPECT_EQ(EnvName("http.sse.heartbeat_ms"), "TRELLIS_HTTP_SSE_HEARTBEAT_MS");
  EXPECT_EQ(EnvName("data_dir"), "TRELLIS_DATA_DIR");
}

TEST(ConfigTest, SchemaRejectsBadDefaultsAndDuplicates) {
  Schema s;
  s.Add({.key = "a", .kind = Kind::kInt, .default_value = "1"});
  EXPECT_THROW(s.Add({.key = "a", .kind = Kind::kInt, .default_value = "1"}),
               std::invalid_argument);
  EXPECT_THROW(s.Add({.key = "b", .kind = Kind::kInt, .default_value = "x"}),
               std::invalid_argument);
}

TEST(ConfigTest, MarkdownReferenceHasOneRowPerKey) {
  const auto md = TestSchema().MarkdownReference();
  EXPECT_NE(md.find("| `http.port` | `TRELLIS_HTTP_PORT` | integer | `8080` |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("`TRELLIS_DB_PASSWORD_FILE`"), std::string::npos);
}

}  // namespace
}  // namespace trellis::platform::core::config
