#include "platform/http/router.hpp"

#include <array>
#include <stdexcept>

namespace trellis::platform::http {

namespace {
constexpr std::size_t kMethodCount = static_cast<std::size_t>(Method::kOther) + 1;
}

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> statics;
  std::unique_ptr<Node> param;
  std::string param_name;
  std::array<int, kMethodCount> routes;  // route id per method, -1 when none
  std::string pattern;

  Node() { routes.fill(-1); }
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

int Router::Add(Method method, std::string_view pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  }
  Node* node = root_.get();
  std::string_view rest = pattern.substr(1);
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      const std::string name(seg.substr(1, seg.size() - 2));
      if (!node->param) {
        node->param = std::make_unique<Node>();
        node->param_name = name;
      } else if (node->param_name != name) {
        throw std::invalid_argument("conflicting parameter names at " + std::string(pattern));
      }
      node = node->param.get();
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos) {
        throw std::invalid_argument("malformed route segment in " + std::string(pattern));
      }
      auto it = node->statics.find(seg);
      if (it == node->statics.end()) {
        it = node->statics.emplace(std::string(seg), std::make_unique<Node>()).first;
      }
      node = it->second.get();
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  auto& slot = node->routes[static_cast<std::size_t>(method)];
  if (slot != -1) {
    throw std::invalid_argument("duplicate route " + std::string(MethodName(method)) + " " +
                                std::string(pattern));
  }
  const int id = static_cast<int>(routes_.size());
  slot = id;
  node->pattern = std::string(pattern);
  routes_.push_back(RouteInfo{id, method, std::string(pattern)});
  handlers_.push_back(std::move(handler));
  return id;
}

const Router::Node* Router::Walk(
    const Node* node, std::string_view rest,
    std::vector<std::pair<std::string_view, std::string_view>>& params) const {
  const auto slash = rest.find('/');
  const std::string_view seg = rest.substr(0, slash);
  const bool last = slash == std::string_view::npos;
  const std::string_view tail = last ? std::string_view() : rest.substr(slash + 1);

  if (auto it = node->statics.find(seg); it != node->statics.end()) {
    if (last) {
      if (!it->second->pattern.empty()) return it->second.get();
    } else if (const Node* found = Walk(it->second.get(), tail, params)) {
      return found;
    }
  }
  if (node->param && !seg.empty()) {
    params.emplace_back(node->param_name, seg);
    if (last) {
      if (!node->param->pattern.empty()) return node->param.get();
    } else if (const Node* found = Walk(node->param.get(), tail, params)) {
      return found;
    }
    params.pop_back();
  }
  return nullptr;
}

Router::Match Router::Find(
    Method method, std::string_view path,
    std::vector<std::pair<std::string_view, std::string_view>>& params) const {
  Match m;
  if (path.empty() || path.front() != '/') return m;
  const Node* node = Walk(root_.get(), path.substr(1), params);
  if (!node) return m;
  m.path_matched = true;
  m.pattern = node->pattern;
  int id = node->routes[static_cast<std::size_t>(method)];
  if (id == -1 && method == Method::kHead)
    id = node->routes[static_cast<std::size_t>(Method::kGet)];
  if (id != -1) {
    m.handler = &handlers_[static_cast<std::size_t>(id)];
    m.route_id = id;
    return m;
  }
  for (std::size_t i = 0; i < kMethodCount; ++i) {
    if (node->routes[i] == -1) continue;
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += MethodName(static_cast<Method>(i));
    if (static_cast<Method>(i) == Method::kGet) m.allow += ", HEAD";
  }
  if (!m.allow.empty()) m.allow += ", OPTIONS";
  return m;
}

}  // namespace trellis::platform::http
