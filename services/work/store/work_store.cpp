#include "services/work/store/work_store.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <map>
#include <utility>

namespace trellis::work::store {

namespace core = platform::core;
using core::ErrorCode;
using domain::Comment;
using domain::Project;
using domain::Task;
using platform::ports::SqlParams;
using platform::ports::SqlResult;
using platform::ports::SqlRow;
using platform::ports::SqlValue;

namespace {

constexpr std::string_view kProjectColumns =
    "org_id, id, name, description, archived, created_by, created_at_ms, updated_at_ms, version";
constexpr std::string_view kTaskColumns =
    "t.org_id, t.id, t.project_id, t.title, t.description, t.status, t.priority, t.assignee_id, "
    "t.due_date, t.created_by, t.created_at_ms, t.updated_at_ms, t.version";
constexpr std::string_view kCommentColumns =
    "org_id, id, task_id, author_id, body, created_at_ms, updated_at_ms, version";

// Sorts with no due date last (ascending); real dates are all smaller.
constexpr std::string_view kNoDueDate = "9999-99-99";

// Label look-ups bind the page's ids in IN lists padded to these sizes, so that a handful of
// prepared statements serve every page size instead of one statement per size.
constexpr std::size_t kInListBuckets[] = {1, 4, 16, 64, 256};

// Numbers $n placeholders while a statement is built.
class SqlBuilder {
 public:
  std::string& Sql() { return sql_; }
  SqlParams& Params() { return params_; }
  // Appends a placeholder bound to value.
  SqlBuilder& Bind(SqlValue value) {
    params_.push_back(std::move(value));
    sql_ += '$';
    sql_ += std::to_string(params_.size());
    return *this;
  }
  SqlBuilder& Add(std::string_view text) {
    sql_ += text;
    return *this;
  }

 private:
  std::string sql_;
  SqlParams params_;
};

SqlValue Nullable(const std::optional<std::string>& v) {
  if (!v) return std::monostate{};
  return *v;
}

core::Error Corrupt(std::string detail) {
  return core::Error(ErrorCode::kInternal, "unexpected database value", std::move(detail));
}

core::Result<Project> ProjectFrom(const SqlRow& row) {
  Project p;
  auto org = row.Get<std::string>("org_id");
  auto id = row.Get<std::string>("id");
  auto name = row.Get<std::string>("name");
  auto description = row.Get<std::string>("description");
  auto archived = row.Get<std::int64_t>("archived");
  auto created_by = row.Get<std::string>("created_by");
  auto created = row.Get<std::int64_t>("created_at_ms");
  auto updated = row.Get<std::int64_t>("updated_at_ms");
  auto version = row.Get<std::int64_t>("version");
  for (const core::Error* e :
       {org ? nullptr : &org.error(), id ? nullptr : &id.error(), name ? nullptr : &name.error(),
        description ? nullptr : &description.error(), archived ? nullptr : &archived.error(),
        created_by ? nullptr : &created_by.error(), created ? nullptr : &created.error(),
        updated ? nullptr : &updated.error(), version ? nullptr : &version.error()}) {
    if (e != nullptr) return std::unexpected(*e);
  }
  p.org_id = std::move(*org);
  p.id = std::move(*id);
  p.name = std::move(*name);
  p.description = std::move(*description);
  p.archived = *archived != 0;
  p.created_by = std::move(*created_by);
  p.created_at_ms = *created;
  p.updated_at_ms = *updated;
  p.version = *version;
  return p;
}

core::Result<Task> TaskFrom(const SqlRow& row) {
  Task t;
  auto org = row.Get<std::string>("org_id");
  auto id = row.Get<std::string>("id");
  auto project = row.Get<std::string>("project_id");
  auto title = row.Get<std::string>("title");
  auto description = row.Get<std::string>("description");
  auto status = row.Get<std::string>("status");
  auto priority = row.Get<std::int64_t>("priority");
  auto assignee = row.GetOptional<std::string>("assignee_id");
  auto due = row.GetOptional<std::string>("due_date");
  auto created_by = row.Get<std::string>("created_by");
  auto created = row.Get<std::int64_t>("created_at_ms");
  auto updated = row.Get<std::int64_t>("updated_at_ms");
  auto version = row.Get<std::int64_t>("version");
  for (const core::Error* e :
       {org ? nullptr : &org.error(), id ? nullptr : &id.error(),
        project ? nullptr : &project.error(), title ? nullptr : &title.error(),
        description ? nullptr : &description.error(), status ? nullptr : &status.error(),
        priority ? nullptr : &priority.error(), assignee ? nullptr : &assignee.error(),
        due ? nullptr : &due.error(), created_by ? nullptr : &created_by.error(),
        created ? nullptr : &created.error(), updated ? nullptr : &updated.error(),
        version ? nullptr : &version.error()}) {
    if (e != nullptr) return std::unexpected(*e);
  }
  auto parsed_status = domain::ParseTaskStatus(*status);
  if (!parsed_status) return std::unexpected(Corrupt("task status " + *status));
  t.org_id = std::move(*org);
  t.id = std::move(*id);
  t.project_id = std::move(*project);
  t.title = std::move(*title);
  t.description = std::move(*description);
  t.status = *parsed_status;
  t.priority = *priority;
  t.assignee_id = std::move(*assignee);
  t.due_date = std::move(*due);
  t.created_by = std::move(*created_by);
  t.created_at_ms = *created;
  t.updated_at_ms = *updated;
  t.version = *version;
  return t;
}

core::Result<Comment> CommentFrom(const SqlRow& row) {
  Comment c;
  auto org = row.Get<std::string>("org_id");
  auto id = row.Get<std::string>("id");
  auto task = row.Get<std::string>("task_id");
  auto author = row.Get<std::string>("author_id");
  auto body = row.Get<std::string>("body");
  auto created = row.Get<std::int64_t>("created_at_ms");
  auto updated = row.Get<std::int64_t>("updated_at_ms");
  auto version = row.Get<std::int64_t>("version");
  for (const core::Error* e :
       {org ? nullptr : &org.error(), id ? nullptr : &id.error(), task ? nullptr : &task.error(),
        author ? nullptr : &author.error(), body ? nullptr : &body.error(),
        created ? nullptr : &created.error(), updated ? nullptr : &updated.error(),
        version ? nullptr : &version.error()}) {
    if (e != nullptr) return std::unexpected(*e);
  }
  c.org_id = std::move(*org);
  c.id = std::move(*id);
  c.task_id = std::move(*task);
  c.author_id = std::move(*author);
  c.body = std::move(*body);
  c.created_at_ms = *created;
  c.updated_at_ms = *updated;
  c.version = *version;
  return c;
}

// A cursor's key for an integer sort column.
core::Result<std::int64_t> IntKey(const std::string& key) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), v);
  if (ec != std::errc() || end != key.data() + key.size()) {
    return core::Fail(ErrorCode::kInvalidArgument, "invalid cursor", "sort key " + key);
  }
  return v;
}

// Appends "AND (key > $k OR (key = $k AND id > $i))" (or < for descending).
core::Result<void> AddKeyset(SqlBuilder& b, std::string_view key_sql, bool int_key,
                             std::string_view id_sql, bool descending, const Position& after) {
  SqlValue key;
  if (int_key) {
    auto k = IntKey(after.key);
    if (!k) return std::unexpected(k.error());
    key = *k;
  } else {
    key = after.key;
  }
  const std::string_view op = descending ? " < " : " > ";
  b.Add(" AND (").Add(key_sql).Add(op).Bind(key).Add(" OR (").Add(key_sql).Add(" = ");
  b.Bind(std::move(key)).Add(" AND ").Add(id_sql).Add(op).Bind(after.id).Add("))");
  return {};
}

void AddOrder(SqlBuilder& b, std::string_view key_sql, std::string_view id_sql, bool descending,
              int limit) {
  const std::string_view dir = descending ? " DESC" : " ASC";
  b.Add(" ORDER BY ").Add(key_sql).Add(dir).Add(", ").Add(id_sql).Add(dir).Add(" LIMIT ");
  b.Bind(std::int64_t{limit});
}

core::Result<void> ExpectOneRow(const core::Result<SqlResult>& r) {
  if (!r) return std::unexpected(r.error());
  if (r->rows_affected != 1) {
    return core::Fail(ErrorCode::kFailedPrecondition, "the resource has changed",
                      "no row with the expected version");
  }
  return {};
}

Awaitable<void> InsertLabels(SqlTransaction& tx, std::string org_id, std::string task_id,
                             const std::vector<std::string>& labels) {
  if (labels.empty()) co_return core::Result<void>();
  SqlBuilder b;
  b.Add("INSERT INTO task_labels (org_id, task_id, label) VALUES ");
  b.Params().push_back(org_id);
  b.Params().push_back(task_id);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    b.Add(i == 0 ? "($1, $2, " : ", ($1, $2, ").Bind(labels[i]).Add(")");
  }
  auto r = co_await tx.Execute(std::move(b.Sql()), std::move(b.Params()));
  co_return platform::ports::Void(r);
}

// Fills the labels of a page of tasks with one query.
Awaitable<void> LoadLabels(SqlTransaction& tx, std::string org_id, std::vector<Task>& tasks) {
  if (tasks.empty()) co_return core::Result<void>();
  std::size_t size = tasks.size();
  for (const std::size_t bucket : kInListBuckets) {
    if (bucket >= tasks.size()) {
      size = bucket;
      break;
    }
  }
  SqlBuilder b;
  b.Add("SELECT task_id, label FROM task_labels WHERE org_id = ").Bind(org_id);
  b.Add(" AND task_id IN (");
  for (std::size_t i = 0; i < size; ++i) {
    if (i > 0) b.Add(", ");
    b.Bind(tasks[std::min(i, tasks.size() - 1)].id);
  }
  b.Add(") ORDER BY task_id, label");
  auto r = co_await tx.Execute(std::move(b.Sql()), std::move(b.Params()));
  if (!r) co_return std::unexpected(r.error());
  std::map<std::string_view, Task*> by_id;
  for (Task& t : tasks) by_id.emplace(t.id, &t);
  for (const SqlRow& row : r->rows) {
    auto task_id = row.Get<std::string>("task_id");
    auto label = row.Get<std::string>("label");
    if (!task_id) co_return std::unexpected(task_id.error());
    if (!label) co_return std::unexpected(label.error());
    if (auto it = by_id.find(*task_id); it != by_id.end()) {
      it->second->labels.push_back(std::move(*label));
    }
  }
  co_return core::Result<void>();
}

std::string_view ProjectSortSql(ProjectSort sort) {
  switch (sort) {
    case ProjectSort::kCreatedAt: return "created_at_ms";
    case ProjectSort::kUpdatedAt: return "updated_at_ms";
    case ProjectSort::kName: return "name";
  }
  return "created_at_ms";
}

std::string_view TaskSortSql(TaskSort sort) {
  switch (sort) {
    case TaskSort::kCreatedAt: return "t.created_at_ms";
    case TaskSort::kUpdatedAt: return "t.updated_at_ms";
    case TaskSort::kDueDate: return "COALESCE(t.due_date, '9999-99-99')";
    case TaskSort::kPriority: return "t.priority_rank";
  }
  return "t.created_at_ms";
}

}  // namespace

// --- projects ---------------------------------------------------------------------------

Awaitable<void> InsertProject(SqlTransaction& tx, const Project& p) {
  std::string sql = "INSERT INTO projects (" + std::string(kProjectColumns) +
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
  SqlParams params{p.org_id,
                   p.id,
                   p.name,
                   p.description,
                   std::int64_t{p.archived ? 1 : 0},
                   p.created_by,
                   p.created_at_ms,
                   p.updated_at_ms,
                   p.version};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  co_return platform::ports::Void(r);
}

Awaitable<Project> GetProject(SqlTransaction& tx, std::string org_id, std::string project_id) {
  std::string sql =
      "SELECT " + std::string(kProjectColumns) + " FROM projects WHERE org_id = $1 AND id = $2";
  SqlParams params{org_id, project_id};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  if (!r) co_return std::unexpected(r.error());
  if (r->rows.empty()) co_return core::Fail(ErrorCode::kNotFound, "no such project");
  co_return ProjectFrom(r->rows.front());
}

Awaitable<void> UpdateProject(SqlTransaction& tx, const Project& p, std::int64_t expected_version) {
  std::string sql =
      "UPDATE projects SET name = $3, description = $4, archived = $5, updated_at_ms = $6, "
      "version = $7 WHERE org_id = $1 AND id = $2 AND version = $8";
  SqlParams params{
      p.org_id,        p.id,      p.name,          p.description, std::int64_t{p.archived ? 1 : 0},
      p.updated_at_ms, p.version, expected_version};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  co_return ExpectOneRow(r);
}

Awaitable<std::vector<Project>> ListProjects(SqlTransaction& tx, std::string org_id,
                                             const ProjectQuery& q) {
  SqlBuilder b;
  b.Add("SELECT ").Add(kProjectColumns).Add(" FROM projects WHERE org_id = ").Bind(org_id);
  if (q.archived) b.Add(" AND archived = ").Bind(std::int64_t{*q.archived ? 1 : 0});
  const std::string_view key = ProjectSortSql(q.sort);
  if (q.after) {
    auto ok = AddKeyset(b, key, q.sort != ProjectSort::kName, "id", q.descending, *q.after);
    if (!ok) co_return std::unexpected(ok.error());
  }
  AddOrder(b, key, "id", q.descending, q.limit);
  auto r = co_await tx.Execute(std::move(b.Sql()), std::move(b.Params()));
  if (!r) co_return std::unexpected(r.error());
  std::vector<Project> out;
  out.reserve(r->rows.size());
  for (const SqlRow& row : r->rows) {
    auto p = ProjectFrom(row);
    if (!p) co_return std::unexpected(p.error());
    out.push_back(std::move(*p));
  }
  co_return out;
}

std::string SortKey(const Project& p, ProjectSort sort) {
  switch (sort) {
    case ProjectSort::kCreatedAt: return std::to_string(p.created_at_ms);
    case ProjectSort::kUpdatedAt: return std::to_string(p.updated_at_ms);
    case ProjectSort::kName: return p.name;
  }
  return {};
}

// --- tasks ------------------------------------------------------------------------------

Awaitable<void> InsertTask(SqlTransaction& tx, const Task& t) {
  std::string sql =
      "INSERT INTO tasks (org_id, id, project_id, title, description, status, priority, "
      "assignee_id, due_date, created_by, created_at_ms, updated_at_ms, version) VALUES ($1, $2, "
      "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
  SqlParams params{t.org_id,
                   t.id,
                   t.project_id,
                   t.title,
                   t.description,
                   std::string(domain::TaskStatusName(t.status)),
                   t.priority,
                   Nullable(t.assignee_id),
                   Nullable(t.due_date),
                   t.created_by,
                   t.created_at_ms,
                   t.updated_at_ms,
                   t.version};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  if (!r) co_return std::unexpected(r.error());
  co_return co_await InsertLabels(tx, t.org_id, t.id, t.labels);
}

Awaitable<Task> GetTask(SqlTransaction& tx, std::string org_id, std::string task_id) {
  std::string sql =
      "SELECT " + std::string(kTaskColumns) + " FROM tasks t WHERE t.org_id = $1 AND t.id = $2";
  SqlParams params{org_id, task_id};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  if (!r) co_return std::unexpected(r.error());
  if (r->rows.empty()) co_return core::Fail(ErrorCode::kNotFound, "no such task");
  auto task = TaskFrom(r->rows.front());
  if (!task) co_return std::unexpected(task.error());
  std::vector<Task> one;
  one.push_back(std::move(*task));
  auto labels = co_await LoadLabels(tx, org_id, one);
  if (!labels) co_return std::unexpected(labels.error());
  co_return std::move(one.front());
}

Awaitable<void> UpdateTask(SqlTransaction& tx, const Task& t, std::int64_t expected_version,
                           bool replace_labels) {
  std::string sql =
      "UPDATE tasks SET title = $3, description = $4, status = $5, priority = $6, assignee_id = "
      "$7, due_date = $8, updated_at_ms = $9, version = $10 WHERE org_id = $1 AND id = $2 AND "
      "version = $11";
  SqlParams params{t.org_id,
                   t.id,
                   t.title,
                   t.description,
                   std::string(domain::TaskStatusName(t.status)),
                   t.priority,
                   Nullable(t.assignee_id),
                   Nullable(t.due_date),
                   t.updated_at_ms,
                   t.version,
                   expected_version};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  if (auto ok = ExpectOneRow(r); !ok) co_return ok;
  if (!replace_labels) co_return core::Result<void>();
  std::string del = "DELETE FROM task_labels WHERE org_id = $1 AND task_id = $2";
  SqlParams del_params{t.org_id, t.id};
  auto d = co_await tx.Execute(std::move(del), std::move(del_params));
  if (!d) co_return std::unexpected(d.error());
  co_return co_await InsertLabels(tx, t.org_id, t.id, t.labels);
}

Awaitable<void> DeleteTask(SqlTransaction& tx, std::string org_id, std::string task_id,
                           std::int64_t expected_version) {
  // Labels and comments go with the task (ON DELETE CASCADE); the FTS row by trigger.
  std::string sql = "DELETE FROM tasks WHERE org_id = $1 AND id = $2 AND version = $3";
  SqlParams params{org_id, task_id, expected_version};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  co_return ExpectOneRow(r);
}

Awaitable<std::vector<Task>> ListTasks(SqlTransaction& tx, std::string org_id, const TaskQuery& q) {
  SqlBuilder b;
  b.Add("SELECT ").Add(kTaskColumns).Add(" FROM tasks t WHERE t.org_id = ").Bind(org_id);
  b.Add(" AND t.project_id = ").Bind(q.project_id);
  if (!q.statuses.empty()) {
    b.Add(" AND t.status IN (");
    for (std::size_t i = 0; i < q.statuses.size(); ++i) {
      if (i > 0) b.Add(", ");
      b.Bind(std::string(domain::TaskStatusName(q.statuses[i])));
    }
    b.Add(")");
  }
  if (q.assignee_id) {
    if (q.assignee_id->empty()) {
      b.Add(" AND t.assignee_id IS NULL");
    } else {
      b.Add(" AND t.assignee_id = ").Bind(*q.assignee_id);
    }
  }
  if (q.priority) b.Add(" AND t.priority = ").Bind(*q.priority);
  if (q.due_before) b.Add(" AND t.due_date < ").Bind(*q.due_before);
  if (q.due_after) b.Add(" AND t.due_date > ").Bind(*q.due_after);
  if (q.label) {
    b.Add(
         " AND EXISTS (SELECT 1 FROM task_labels l WHERE l.org_id = t.org_id AND "
         "l.task_id = t.id AND l.label = ")
        .Bind(*q.label)
        .Add(")");
  }
  if (q.text && tx.Dialect() == platform::ports::SqlDialect::kPostgres) {
    // The tsvector column and its GIN index (migrations/postgres/V1__work.sql).
    if (std::string match = TsQuery(*q.text); match.empty()) {
      b.Add(" AND 0 = 1");
    } else {
      b.Add(" AND t.search @@ to_tsquery('trellis_search', ").Bind(std::move(match)).Add(")");
    }
  } else if (q.text) {
    if (std::string match = FtsQuery(*q.text); match.empty()) {
      b.Add(" AND 0 = 1");  // no word to look for matches nothing (FTS5 refuses "")
    } else {
      b.Add(" AND t.seq IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH ")
          .Bind(std::move(match))
          .Add(")");
    }
  }
  const std::string_view key = TaskSortSql(q.sort);
  if (q.after) {
    auto ok = AddKeyset(b, key, q.sort != TaskSort::kDueDate, "t.id", q.descending, *q.after);
    if (!ok) co_return std::unexpected(ok.error());
  }
  AddOrder(b, key, "t.id", q.descending, q.limit);
  auto r = co_await tx.Execute(std::move(b.Sql()), std::move(b.Params()));
  if (!r) co_return std::unexpected(r.error());
  std::vector<Task> out;
  out.reserve(r->rows.size());
  for (const SqlRow& row : r->rows) {
    auto t = TaskFrom(row);
    if (!t) co_return std::unexpected(t.error());
    out.push_back(std::move(*t));
  }
  auto labels = co_await LoadLabels(tx, org_id, out);
  if (!labels) co_return std::unexpected(labels.error());
  co_return out;
}

std::string SortKey(const Task& t, TaskSort sort) {
  switch (sort) {
    case TaskSort::kCreatedAt: return std::to_string(t.created_at_ms);
    case TaskSort::kUpdatedAt: return std::to_string(t.updated_at_ms);
    case TaskSort::kDueDate: return t.due_date.value_or(std::string(kNoDueDate));
    case TaskSort::kPriority: return std::to_string((t.priority + 4) % 5);
  }
  return {};
}

namespace {

// Words are runs of letters and digits (any byte >= 0x80 counts as a letter, so UTF-8 words
// stay whole) and '_'; everything else separates them.
std::vector<std::string_view> SearchWords(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t start = std::string_view::npos;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const bool word_char =
        i < text.size() &&
        (static_cast<unsigned char>(text[i]) >= 0x80 || (text[i] >= '0' && text[i] <= '9') ||
         (text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z') ||
         text[i] == '_');
    if (word_char && start == std::string_view::npos) start = i;
    if (!word_char && start != std::string_view::npos) {
      words.push_back(text.substr(start, i - start));
      start = std::string_view::npos;
    }
  }
  return words;
}

}  // namespace

std::string FtsQuery(std::string_view text) {
  // Quoting makes each word a plain string to FTS5 (whose tokenizer splits it again at '_').
  const std::vector<std::string_view> words = SearchWords(text);
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += ' ';
    out += '"';
    out += words[i];
    out += '"';
    if (i + 1 == words.size()) out += '*';
  }
  return out;
}

std::string TsQuery(std::string_view text) {
  // Each word's parts (split at '_', as FTS5's unicode61 tokenizer and the tsvector column's
  // punctuation-to-space step do) are quoted lexemes joined by <-> (a phrase); the words are
  // joined by &, and the very last part is a prefix. Parts hold only letters, digits and bytes
  // >= 0x80, so no quote or backslash needs escaping; to_tsquery then drops diacritics and
  // case through the same configuration as the column.
  std::vector<std::vector<std::string_view>> phrases;
  for (std::string_view rest : SearchWords(text)) {
    std::vector<std::string_view> parts;
    while (!rest.empty()) {
      const std::size_t cut = rest.find('_');
      if (cut != 0) parts.push_back(rest.substr(0, cut));
      if (cut == std::string_view::npos) break;
      rest.remove_prefix(cut + 1);
    }
    if (!parts.empty()) phrases.push_back(std::move(parts));  // not only underscores
  }
  std::string out;
  for (std::size_t w = 0; w < phrases.size(); ++w) {
    if (w > 0) out += " & ";
    for (std::size_t p = 0; p < phrases[w].size(); ++p) {
      if (p > 0) out += " <-> ";
      out += '\'';
      out += phrases[w][p];
      out += '\'';
    }
  }
  if (!out.empty()) out += ":*";
  return out;
}

// --- comments ---------------------------------------------------------------------------

Awaitable<void> InsertComment(SqlTransaction& tx, const Comment& c) {
  std::string sql = "INSERT INTO comments (" + std::string(kCommentColumns) +
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
  SqlParams params{c.org_id,        c.id,     c.task_id, c.author_id, c.body, c.created_at_ms,
                   c.updated_at_ms, c.version};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  co_return platform::ports::Void(r);
}

Awaitable<Comment> GetComment(SqlTransaction& tx, std::string org_id, std::string task_id,
                              std::string comment_id) {
  std::string sql = "SELECT " + std::string(kCommentColumns) +
                    " FROM comments WHERE org_id = $1 AND id = $2 AND task_id = $3";
  SqlParams params{org_id, comment_id, task_id};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  if (!r) co_return std::unexpected(r.error());
  if (r->rows.empty()) co_return core::Fail(ErrorCode::kNotFound, "no such comment");
  co_return CommentFrom(r->rows.front());
}

Awaitable<void> UpdateComment(SqlTransaction& tx, const Comment& c, std::int64_t expected_version) {
  std::string sql =
      "UPDATE comments SET body = $3, updated_at_ms = $4, version = $5 WHERE org_id = $1 AND "
      "id = $2 AND version = $6";
  SqlParams params{c.org_id, c.id, c.body, c.updated_at_ms, c.version, expected_version};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  co_return ExpectOneRow(r);
}

Awaitable<void> DeleteComment(SqlTransaction& tx, std::string org_id, std::string comment_id,
                              std::int64_t expected_version) {
  std::string sql = "DELETE FROM comments WHERE org_id = $1 AND id = $2 AND version = $3";
  SqlParams params{org_id, comment_id, expected_version};
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  co_return ExpectOneRow(r);
}

Awaitable<std::vector<Comment>> ListComments(SqlTransaction& tx, std::string org_id,
                                             const CommentQuery& q) {
  SqlBuilder b;
  b.Add("SELECT ").Add(kCommentColumns).Add(" FROM comments WHERE org_id = ").Bind(org_id);
  b.Add(" AND task_id = ").Bind(q.task_id);
  if (q.after) {
    auto ok = AddKeyset(b, "created_at_ms", true, "id", false, *q.after);
    if (!ok) co_return std::unexpected(ok.error());
  }
  AddOrder(b, "created_at_ms", "id", false, q.limit);
  auto r = co_await tx.Execute(std::move(b.Sql()), std::move(b.Params()));
  if (!r) co_return std::unexpected(r.error());
  std::vector<Comment> out;
  out.reserve(r->rows.size());
  for (const SqlRow& row : r->rows) {
    auto c = CommentFrom(row);
    if (!c) co_return std::unexpected(c.error());
    out.push_back(std::move(*c));
  }
  co_return out;
}

std::string SortKey(const Comment& c) { return std::to_string(c.created_at_ms); }

// --- the project summary ------------------------------------------------------------------

Awaitable<ProjectSummary> GetProjectSummary(SqlTransaction& tx, std::string org_id,
                                            SummaryQuery query) {
  using platform::ports::SqlStatement;
  // The statements repeat their text with different parameters, so that each is prepared once
  // per connection and every later summary reuses it.
  constexpr std::string_view kByStatus =
      "SELECT COUNT(*) AS n FROM tasks WHERE org_id = $1 AND project_id = $2 AND status = $3";
  constexpr std::string_view kOpen =
      "SELECT COUNT(*) AS n FROM tasks WHERE org_id = $1 AND project_id = $2 "
      "AND status IN ('todo', 'in_progress')";
  const std::string open(kOpen);
  std::vector<SqlStatement> batch;
  batch.reserve(10);
  batch.emplace_back(
      "SELECT " + std::string(kProjectColumns) + " FROM projects WHERE org_id = $1 AND id = $2",
      SqlParams{org_id, query.project_id});
  for (const domain::TaskStatus status :
       {domain::TaskStatus::kTodo, domain::TaskStatus::kInProgress, domain::TaskStatus::kDone,
        domain::TaskStatus::kCanceled}) {
    batch.emplace_back(
        std::string(kByStatus),
        SqlParams{org_id, query.project_id, std::string(domain::TaskStatusName(status))});
  }
  batch.emplace_back(open + " AND due_date < $3", SqlParams{org_id, query.project_id, query.today});
  batch.emplace_back(open + " AND assignee_id IS NULL", SqlParams{org_id, query.project_id});
  batch.emplace_back(
      open + " AND priority IN ($3, $4)",
      SqlParams{org_id, query.project_id, domain::kPriorityUrgent, domain::kPriorityHigh});
  batch.emplace_back(
      "SELECT COUNT(*) AS n FROM comments c WHERE c.org_id = $1 AND c.created_at_ms >= $3 AND "
      "c.task_id IN (SELECT t.id FROM tasks t WHERE t.org_id = $1 AND t.project_id = $2)",
      SqlParams{org_id, query.project_id, query.comments_since_ms});
  batch.emplace_back(
      "SELECT id, title, status, updated_at_ms FROM tasks WHERE org_id = $1 AND project_id = $2 "
      "ORDER BY updated_at_ms DESC, id DESC LIMIT $3",
      SqlParams{org_id, query.project_id, std::int64_t{query.recent}});
  auto results = co_await tx.ExecuteBatch(std::move(batch));
  if (!results) co_return std::unexpected(results.error());
  if (results->size() != 10) co_return std::unexpected(Corrupt("summary: result count"));
  const std::vector<SqlResult>& r = *results;
  if (r[0].rows.empty()) co_return core::Fail(ErrorCode::kNotFound, "no such project");
  ProjectSummary out;
  auto project = ProjectFrom(r[0].rows.front());
  if (!project) co_return std::unexpected(project.error());
  out.project = std::move(*project);
  std::int64_t* const counts[] = {&out.todo,           &out.in_progress,    &out.done,
                                  &out.canceled,       &out.overdue,        &out.unassigned,
                                  &out.urgent_or_high, &out.recent_comments};
  for (std::size_t i = 0; i < std::size(counts); ++i) {
    const SqlResult& count = r[i + 1];
    if (count.rows.size() != 1) co_return std::unexpected(Corrupt("summary: count rows"));
    auto n = count.rows.front().Get<std::int64_t>("n");
    if (!n) co_return std::unexpected(n.error());
    *counts[i] = *n;
  }
  for (const SqlRow& row : r[9].rows) {
    auto id = row.Get<std::string>("id");
    auto title = row.Get<std::string>("title");
    auto status = row.Get<std::string>("status");
    auto updated = row.Get<std::int64_t>("updated_at_ms");
    if (!id) co_return std::unexpected(id.error());
    if (!title) co_return std::unexpected(title.error());
    if (!status) co_return std::unexpected(status.error());
    if (!updated) co_return std::unexpected(updated.error());
    auto parsed = domain::ParseTaskStatus(*status);
    if (!parsed) co_return std::unexpected(Corrupt("task status " + *status));
    RecentTask t;
    t.id = std::move(*id);
    t.title = std::move(*title);
    t.status = *parsed;
    t.updated_at_ms = *updated;
    out.recent.push_back(std::move(t));
  }
  co_return out;
}

}  // namespace trellis::work::store
