#include "platform/cache/cache_aside.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <random>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "platform/core/log.hpp"

namespace trellis::platform::cache {

namespace asio = boost::asio;
using core::Result;

namespace {

std::mt19937_64& Engine() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

double Uniform01() {
  // (0, 1]: log() of it is finite.
  std::uniform_real_distribution<double> d(0.0, 1.0);
  double u = d(Engine());
  return u <= 0.0 ? 1e-12 : u;
}

std::string NewGeneration() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t bits = Engine()();
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[bits & 0xF];
    bits >>= 4;
  }
  return out;
}

// An entry's stored form: "<value>\n~<generation> <expiry_ms> <delta_ms>". The expiry is wall
// time (processes on several machines read it) and delta is how long the load took (XFetch).
// The value comes first so that a hit becomes the value by truncation, never by moving a large
// page down its buffer. Entries of the older layout ("<generation> ...\n<value>") do not end
// in a "~" line and read as misses (and are filled again in this layout).
std::string Encode(const std::string& generation, std::int64_t expiry_ms, std::int64_t delta_ms,
                   const std::string& value) {
  std::string out;
  out.reserve(value.size() + generation.size() + 44);
  out += value;
  out += "\n~";
  out += generation;
  out += ' ';
  out += std::to_string(expiry_ms);
  out += ' ';
  out += std::to_string(delta_ms);
  return out;
}

struct Decoded {
  std::string_view generation;
  std::int64_t expiry_ms = 0;
  std::int64_t delta_ms = 0;
  std::size_t value_size = 0;  // the value is stored.substr(0, value_size)
};

std::optional<Decoded> Decode(std::string_view stored) {
  // The trailer has no newline; the value may have any number.
  const auto nl = stored.rfind('\n');
  if (nl == std::string_view::npos || nl + 1 >= stored.size() || stored[nl + 1] != '~') {
    return std::nullopt;
  }
  const std::string_view head = stored.substr(nl + 2);
  const auto s1 = head.find(' ');
  const auto s2 = s1 == std::string_view::npos ? s1 : head.find(' ', s1 + 1);
  if (s2 == std::string_view::npos) return std::nullopt;
  Decoded d;
  d.generation = head.substr(0, s1);
  auto parse = [](std::string_view text, std::int64_t& out) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && p == text.data() + text.size();
  };
  if (!parse(head.substr(s1 + 1, s2 - s1 - 1), d.expiry_ms) ||
      !parse(head.substr(s2 + 1), d.delta_ms)) {
    return std::nullopt;
  }
  d.value_size = nl;
  return d;
}

std::int64_t WallMs(const core::Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
      .count();
}

}  // namespace

// One load in progress; callers missing the same entry wait on their own timers, which the
// loader cancels (on each waiter's executor) when the result is in.
// The near cache's LRU: one mutex; values are shared, copied out of it outside the lock.
struct CacheAside::Near {
  struct Entry {
    std::string key;
    std::shared_ptr<const std::string> stored;
  };
  std::mutex mu;
  std::list<Entry> lru;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index;
  std::size_t bytes = 0;
};

struct CacheAside::Flight {
  std::mutex mu;
  bool done = false;
  Result<std::string> result = core::Fail(core::ErrorCode::kInternal, "not loaded");
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;  // guarded by mu
};

CacheAside::CacheAside(ports::Cache& cache, const core::Clock& clock, observe::Registry& metrics,
                       std::string name, CacheAsideSettings settings)
    : cache_(cache),
      clock_(clock),
      settings_(std::move(settings)),
      hits_(metrics.AddCounter("trellis_cache_hits_total",
                               "Cache-aside reads answered by the cache.", {{"cache", name}})),
      misses_(metrics.AddCounter("trellis_cache_misses_total",
                                 "Cache-aside reads that went to the store.", {{"cache", name}})),
      fills_(metrics.AddCounter("trellis_cache_fills_total", "Entries stored after a miss.",
                                {{"cache", name}})),
      errors_(metrics.AddCounter("trellis_cache_errors_total",
                                 "Cache calls that failed (the store answered instead).",
                                 {{"cache", name}})),
      shared_loads_(metrics.AddCounter("trellis_cache_shared_loads_total",
                                       "Misses answered by another caller's load (single flight).",
                                       {{"cache", name}})),
      early_refreshes_(metrics.AddCounter("trellis_cache_early_refreshes_total",
                                          "Hits near expiry treated as misses (XFetch).",
                                          {{"cache", name}})),
      near_hits_(metrics.AddCounter("trellis_cache_near_hits_total",
                                    "Hits served from this process's near cache after the "
                                    "remote cache confirmed their generation.",
                                    {{"cache", name}})) {
  if (settings_.near_entries > 0) near_ = std::make_unique<Near>();
  metrics.AddCallbackGauge("trellis_cache_round_trips", "Calls that reached the cache server.",
                           {{"cache", name}},
                           [this] { return static_cast<double>(cache_.Stats().round_trips); });
  metrics.AddCallbackGauge("trellis_cache_evictions", "Entries the cache dropped to make room.",
                           {{"cache", name}},
                           [this] { return static_cast<double>(cache_.Stats().evictions); });
}

CacheAside::~CacheAside() = default;

std::string CacheAside::GenerationKey(const std::string& ns) const {
  std::string key = settings_.prefix;
  key += ns;
  key += ":g";
  return key;
}

std::string CacheAside::EntryKey(const CacheRef& ref) const {
  std::string key = settings_.prefix;
  key += ref.ns;
  key += ":e:";
  key += ref.key;
  return key;
}

std::chrono::milliseconds CacheAside::JitteredTtl() const {
  const double base = static_cast<double>(settings_.ttl.count());
  std::uniform_real_distribution<double> d(1.0 - settings_.jitter, 1.0 + settings_.jitter);
  const double ms = settings_.jitter > 0 ? base * d(Engine()) : base;
  return std::chrono::milliseconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(ms)));
}

bool CacheAside::RefreshEarly(std::int64_t expiry_ms, std::int64_t delta_ms) const {
  if (settings_.early_refresh_beta <= 0) return false;
  // XFetch (Vattani et al., "Optimal probabilistic cache stampede prevention"): refresh when
  // now − δ·β·ln(U) ≥ expiry, U uniform on (0, 1].
  const double gap = -static_cast<double>(std::max<std::int64_t>(delta_ms, 1)) *
                     settings_.early_refresh_beta * std::log(Uniform01());
  return static_cast<double>(WallMs(clock_)) + gap >= static_cast<double>(expiry_ms);
}

std::shared_ptr<const std::string> CacheAside::NearFind(const std::string& key) {
  if (!near_) return nullptr;
  std::lock_guard lock(near_->mu);
  auto it = near_->index.find(key);
  if (it == near_->index.end()) return nullptr;
  near_->lru.splice(near_->lru.begin(), near_->lru, it->second);
  return it->second->stored;
}

void CacheAside::NearPut(const std::string& key, std::shared_ptr<const std::string> stored) {
  if (!near_ || !stored) return;
  const std::size_t size = stored->size() + key.size();
  if (size > settings_.near_bytes) return;
  std::lock_guard lock(near_->mu);
  if (auto it = near_->index.find(key); it != near_->index.end()) {
    near_->bytes -= it->second->stored->size() + key.size();
    near_->lru.erase(it->second);
    near_->index.erase(it);
  }
  near_->lru.push_front(Near::Entry{key, std::move(stored)});
  near_->index.emplace(key, near_->lru.begin());
  near_->bytes += size;
  while (!near_->lru.empty() &&
         (near_->lru.size() > settings_.near_entries || near_->bytes > settings_.near_bytes)) {
    const auto& last = near_->lru.back();
    near_->bytes -= last.stored->size() + last.key.size();
    near_->index.erase(last.key);
    near_->lru.pop_back();
  }
}

asio::awaitable<std::vector<CacheSlot>> CacheAside::Read(std::vector<CacheRef> refs,
                                                         core::Clock::MonoTime deadline) {
  std::vector<CacheSlot> slots(refs.size());
  if (refs.empty()) co_return slots;
  // Keys: the namespaces' generations (each once), then the entries the near cache lacks.
  std::vector<std::string> keys;
  std::vector<std::size_t> gen_index(refs.size());
  keys.reserve(2 * refs.size());
  for (std::size_t i = 0; i < refs.size(); ++i) {
    // A request reads a handful of entries: a scan of the earlier refs beats a hash map.
    std::size_t same = i;
    for (std::size_t j = 0; j < i; ++j) {
      if (refs[j].ns == refs[i].ns) {
        same = j;
        break;
      }
    }
    if (same == i) {
      gen_index[i] = keys.size();
      keys.push_back(GenerationKey(refs[i].ns));
    } else {
      gen_index[i] = gen_index[same];
    }
  }
  std::vector<std::string> entry_keys(refs.size());
  std::vector<std::shared_ptr<const std::string>> near(refs.size());
  std::vector<std::size_t> entry_index(refs.size(), SIZE_MAX);
  for (std::size_t i = 0; i < refs.size(); ++i) {
    entry_keys[i] = EntryKey(refs[i]);
    near[i] = NearFind(entry_keys[i]);
    if (!near[i]) {
      entry_index[i] = keys.size();
      keys.push_back(entry_keys[i]);
    }
  }

  auto values = co_await cache_.Get(std::move(keys), deadline);
  if (!values) {
    errors_.Inc();
    misses_.Inc(refs.size());
    co_return slots;
  }
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& generation = (*values)[gen_index[i]];
    if (generation) slots[i].generation = *generation;
    std::optional<std::string>* fetched = entry_index[i] != SIZE_MAX && (*values)[entry_index[i]]
                                              ? &(*values)[entry_index[i]]
                                              : nullptr;
    const std::string* stored = near[i] ? near[i].get() : (fetched ? &**fetched : nullptr);
    if (generation && stored) {
      if (auto d = Decode(*stored); d && d->generation == *generation) {
        if (d->expiry_ms <= WallMs(clock_)) {
          // Expired (a near copy outlives the remote one): a miss.
        } else if (RefreshEarly(d->expiry_ms, d->delta_ms)) {
          early_refreshes_.Inc();
        } else {
          hits_.Inc();
          const std::size_t value_size = d->value_size;
          if (near[i]) {
            near_hits_.Inc();
            slots[i].value = near[i]->substr(0, value_size);
          } else if (near_) {
            auto shared = std::make_shared<const std::string>(std::move(**fetched));
            slots[i].value = shared->substr(0, value_size);
            NearPut(entry_keys[i], std::move(shared));
          } else {
            // The adapter's copy becomes the value, its trailer cut off: a large entry (a
            // 27 KB task page) is neither copied nor moved on a hit.
            std::string& value = **fetched;
            value.resize(value_size);
            slots[i].value = std::move(value);
          }
          continue;
        }
      }
    }
    misses_.Inc();
  }
  co_return slots;
}

asio::awaitable<Result<std::string>> CacheAside::Load(CacheRef ref, CacheSlot slot,
                                                      core::Clock::MonoTime deadline, Loader load) {
  if (slot.value) co_return std::move(*slot.value);

  // Single flight: the first caller loads; the others wait for its result.
  const std::string flight_key = EntryKey(ref) + '\n' + slot.generation;
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard lock(flights_mu_);
    auto [it, added] = flights_.try_emplace(flight_key);
    if (added) it->second = std::make_shared<Flight>();
    flight = it->second;
    leader = added;
  }
  if (!leader) {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
    const auto wait_until = std::min(deadline, clock_.Monotonic() + settings_.flight_wait);
    timer->expires_after(wait_until - clock_.Monotonic());
    {
      std::lock_guard lock(flight->mu);
      if (!flight->done) flight->waiters.push_back(timer);
    }
    bool done = false;
    {
      std::lock_guard lock(flight->mu);
      done = flight->done;
    }
    if (!done) {
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    {
      std::lock_guard lock(flight->mu);
      if (flight->done) {
        shared_loads_.Inc();
        co_return flight->result;
      }
    }
    if (clock_.Monotonic() >= deadline) {
      co_return core::Fail(core::ErrorCode::kDeadlineExceeded, "the request took too long",
                           "waiting for another caller's cache load");
    }
    // The other load is slow: load ourselves, without filling (it will).
    co_return co_await load();
  }

  if (slot.generation.empty()) {
    // The namespace has no generation yet (first use, or it was evicted): set one before the
    // store is read, so that what is read is no older than the generation it is filled under.
    slot.generation = co_await EnsureGeneration(ref.ns, deadline);
  }
  const auto started = clock_.Monotonic();
  Result<std::string> result = co_await load();
  const auto load_time =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Monotonic() - started);
  {
    std::lock_guard lock(flights_mu_);
    flights_.erase(flight_key);
  }
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  {
    std::lock_guard lock(flight->mu);
    flight->done = true;
    flight->result = result;
    waiters.swap(flight->waiters);
  }
  for (auto& timer : waiters) {
    // On the waiter's own executor (timers are not thread-safe), and the reference is moved
    // there so the timer is also destroyed there. Moving the expiry, unlike a cancel, also
    // wakes a waiter that has not started waiting yet.
    auto executor = timer->get_executor();
    asio::post(executor, [timer = std::move(timer)] {
      timer->expires_at(asio::steady_timer::time_point::min());
    });
  }
  if (result) {
    co_await Fill(std::move(ref), std::move(slot.generation), *result, load_time, deadline);
  }
  co_return result;
}

asio::awaitable<Result<std::string>> CacheAside::Get(CacheRef ref, core::Clock::MonoTime deadline,
                                                     Loader load) {
  std::vector<CacheRef> refs;
  refs.push_back(ref);
  auto slots = co_await Read(std::move(refs), deadline);
  co_return co_await Load(std::move(ref), std::move(slots[0]), deadline, std::move(load));
}

asio::awaitable<void> CacheAside::Fill(CacheRef ref, std::string generation, std::string value,
                                       std::chrono::milliseconds load_time,
                                       core::Clock::MonoTime deadline) {
  if (generation.empty()) co_return;  // the cache failed when the generation was read
  std::vector<ports::CacheWrite> writes;
  {
    const auto ttl = JitteredTtl();
    ports::CacheWrite w;
    w.key = EntryKey(ref);
    w.value = Encode(generation, WallMs(clock_) + ttl.count(), load_time.count(), value);
    w.ttl = ttl;
    writes.push_back(std::move(w));
  }
  if (near_) NearPut(writes.front().key, std::make_shared<const std::string>(writes.front().value));
  auto stored = co_await cache_.Set(std::move(writes), deadline);
  if (!stored) {
    errors_.Inc();
  } else {
    fills_.Inc();
  }
}

asio::awaitable<std::string> CacheAside::EnsureGeneration(const std::string& ns,
                                                          core::Clock::MonoTime deadline) {
  std::vector<ports::CacheWrite> writes;
  ports::CacheWrite w;
  w.key = GenerationKey(ns);
  w.value = NewGeneration();
  w.ttl = settings_.generation_ttl;
  w.only_if_absent = true;  // another caller (or an invalidation) may have set one meanwhile
  writes.push_back(std::move(w));
  if (auto set = co_await cache_.Set(std::move(writes), deadline); !set) {
    errors_.Inc();
    co_return std::string();
  }
  std::vector<std::string> keys;
  keys.push_back(GenerationKey(ns));
  auto got = co_await cache_.Get(std::move(keys), deadline);
  if (!got || !(*got)[0]) {
    if (!got) errors_.Inc();
    co_return std::string();
  }
  co_return std::move(*(*got)[0]);
}

asio::awaitable<Result<void>> CacheAside::Invalidate(std::vector<std::string> namespaces,
                                                     core::Clock::MonoTime deadline) {
  std::unordered_set<std::string> seen;
  std::vector<ports::CacheWrite> writes;
  for (auto& ns : namespaces) {
    if (!seen.insert(ns).second) continue;
    ports::CacheWrite w;
    w.key = GenerationKey(ns);
    w.value = NewGeneration();
    w.ttl = settings_.generation_ttl;
    writes.push_back(std::move(w));
  }
  if (writes.empty()) co_return Result<void>();
  auto r = co_await cache_.Set(std::move(writes), deadline);
  if (!r) errors_.Inc();
  co_return r;
}

CacheAside::Stats CacheAside::GetStats() const {
  Stats s;
  s.hits = hits_.Value();
  s.misses = misses_.Value();
  s.fills = fills_.Value();
  s.errors = errors_.Value();
  s.shared_loads = shared_loads_.Value();
  s.early_refreshes = early_refreshes_.Value();
  s.near_hits = near_hits_.Value();
  return s;
}

}  // namespace trellis::platform::cache
