// ThreadSanitizer annotations for the handoff inside Debian's prebuilt gRPC core: linked into every
// executable of the `tsan` preset (PROV_TSAN=ON; cmake/TsanAbsl.cmake) and nowhere else.
//
// What it models: a thread that starts a batch of operations on a call (grpc_call_start_batch, with
// a tag) hands everything it wrote before (the message to send, the buffer a read fills, the op
// set's own members) to the thread that later runs that tag's completion. libgrpc orders the two
// through its completion queue, whose atomics and futexes tsan cannot see (the library is not built
// with -fsanitize=thread). Without this file tsan reports those accesses as data races, in gRPC's
// header code compiled into our binaries (CallOpSet::FinishOp, ByteBuffer::set_buffer, ...), and
// suppressing them by frame would also hide a real race of the same shape: project code touching a
// read buffer while the read is still pending.
//
// How: this file defines grpc_call_start_batch again, so the executable's definition interposes on
// libgrpc's (gRPC's C++ layer calls it from libgrpc++ through the PLT). It tells tsan "released"
// on the tag's address and calls the real function. The completion side is where the tag runs:
//   - callback API (provd's streams, the agent's uplink): the tag is a
//   grpc_completion_queue_functor
//     (CallbackWithSuccessTag, CallbackWithStatusTag) that libgrpc runs through its `functor_run`
//     pointer. The first time a tag of one of those two kinds is started, its `functor_run` is
//     replaced by a trampoline that tells tsan "acquired" on the tag's address and calls the
//     original. The kinds are recognised by the original's address (ours, and libgrpc++'s own
//     copy), so no other tag (a CallOpSet, whose first word is a vtable pointer) is ever written.
//   - completion-queue API (sync and async stubs): grpc_completion_queue_next and
//     grpc_completion_queue_pluck are interposed too, and "acquire" the tag they return.
// A server callback call hands itself over once more at its end: the thread that drops its last
// reference (a completion, or the thread that calls Finish) sends OnDone, and OnCancel, to gRPC's
// executor (ServerCallbackCall::ScheduleOnDone and CallOnCancel, in libgrpc++), whose thread then
// runs the reactor's OnDone and destroys the call's op sets. Both are defined here again: they
// "release" the call, and hand libgrpc++'s real function a small stand-in whose CallOnDone (or
// OnCancel) "acquires" it before running the real one. The last reference may have been dropped
// inside libgrpc++, by an atomic decrement tsan did not see, so they first "acquire" the
// counter's address, as that decrement (acq_rel) did.
// A message can also be handed between two calls of one process: provd's dashboard watches provd's
// own WatchFlags over an in-process channel, whose transport gives the receiving call the sending
// call's slices themselves. So a batch that sends a message "releases" on each slice's data, and
// when a batch that received one completes, its slices' data are "acquired" (a batch's receive
// buffer is remembered by tag, in a table of relaxed atomics, which adds no order of its own).
// Over a socket the receiver's slices are new memory, and the acquire finds nothing to pair with.
// The edges added are exactly the ones libgrpc guarantees (a batch's start happens before its
// completion); no lock is taken and no other ordering is invented, so a race between project
// threads is still reported.
//
// Thread-safety: every function is safe to call from any thread, like the functions it wraps. The
// table of originals is written once, by a static constructor on the main thread before any other
// thread exists, and only read afterwards.
#include <dlfcn.h>
#include <grpc/grpc.h>
#include <grpcpp/support/callback_common.h>
#include <grpcpp/support/server_callback.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

using FunctorRun = void (*)(grpc_completion_queue_functor*, int);

// The address of a private static member function, through an explicit instantiation (where the
// language does not check access): the two StaticRun functions gRPC's callback tags run through.
template <FunctorRun Fn, typename Tag>
struct ExposeRun {
  friend FunctorRun RunOf(Tag) { return Fn; }
};
struct SuccessTagKind {};
struct StatusTagKind {};
FunctorRun RunOf(SuccessTagKind);
FunctorRun RunOf(StatusTagKind);
template struct ExposeRun<&grpc::internal::CallbackWithSuccessTag::StaticRun, SuccessTagKind>;
template struct ExposeRun<&grpc::internal::CallbackWithStatusTag::StaticRun, StatusTagKind>;

// The originals a trampoline may stand for: our copies of the two StaticRun functions and
// libgrpc++'s exported copy of CallbackWithSuccessTag::StaticRun (the tags it sets up itself).
constexpr int kMaxOriginals = 3;
FunctorRun g_originals[kMaxOriginals] = {};
int g_original_count = 0;

void AcquireReceived(void* tag);

template <int I>
void Trampoline(grpc_completion_queue_functor* tag, int ok) {
  __tsan_acquire(tag);
  AcquireReceived(tag);
  g_originals[I](tag, ok);
}
constexpr FunctorRun kTrampolines[kMaxOriginals] = {&Trampoline<0>, &Trampoline<1>, &Trampoline<2>};

using ScheduleOnDoneFn = void (*)(grpc::internal::ServerCallbackCall*, bool);
using CallOnCancelFn = void (*)(grpc::internal::ServerCallbackCall*,
                                grpc::internal::ServerReactor*);
ScheduleOnDoneFn g_real_schedule_on_done = nullptr;
CallOnCancelFn g_real_call_on_cancel = nullptr;

// Calls f(data) for the start of each slice of a raw byte buffer.
template <typename F>
void ForEachSlice(grpc_byte_buffer* buffer, F f) {
  if (buffer == nullptr || buffer->type != GRPC_BB_RAW) return;
  const grpc_slice_buffer& slices = buffer->data.raw.slice_buffer;
  for (size_t i = 0; i < slices.count; ++i) f(GRPC_SLICE_START_PTR(slices.slices[i]));
}

// Where each pending batch with a GRPC_OP_RECV_MESSAGE puts the message, by tag: open addressing,
// slots claimed once by a tag and reused by it (gRPC reuses a stream's tags, and memory for new
// ones); a full table only loses the annotation. Relaxed atomics: libgrpc orders the writer (the
// batch's start) before the reader (its completion); tsan must not see an order here.
class PendingReceives {
 public:
  void Put(void* tag, grpc_byte_buffer** out) {
    for (size_t i = 0, at = Hash(tag); i < kSlots; ++i, at = (at + 1) % kSlots) {
      void* held = slots_[at].tag.load(std::memory_order_relaxed);
      if (held == nullptr &&
          !slots_[at].tag.compare_exchange_strong(held, tag, std::memory_order_relaxed)) {
        // Another tag took the slot first; `held` is now that tag.
      }
      if (held == nullptr || held == tag) {
        slots_[at].out.store(out, std::memory_order_relaxed);
        return;
      }
    }
  }
  // The receive buffer of `tag`'s completed batch, forgotten as it is taken; null if none.
  grpc_byte_buffer** Take(void* tag) {
    for (size_t i = 0, at = Hash(tag); i < kSlots; ++i, at = (at + 1) % kSlots) {
      void* held = slots_[at].tag.load(std::memory_order_relaxed);
      if (held == nullptr) return nullptr;
      if (held == tag) return slots_[at].out.exchange(nullptr, std::memory_order_relaxed);
    }
    return nullptr;
  }

 private:
  static constexpr size_t kSlots = size_t{1} << 16;
  static size_t Hash(void* tag) {
    return (reinterpret_cast<uintptr_t>(tag) >> 4) * 0x9E3779B97F4A7C15ULL % kSlots;
  }
  struct Slot {
    std::atomic<void*> tag{nullptr};
    std::atomic<grpc_byte_buffer**> out{nullptr};
  };
  Slot slots_[kSlots];
};
PendingReceives g_pending_receives;

// After `tag`'s batch completed: acquires what the sender of a message it received released.
void AcquireReceived(void* tag) {
  grpc_byte_buffer** out = g_pending_receives.Take(tag);
  if (out != nullptr)
    ForEachSlice(*out, [](const void* data) { __tsan_acquire(const_cast<void*>(data)); });
}

using StartBatchFn = grpc_call_error (*)(grpc_call*, const grpc_op*, size_t, void*, void*);
using NextFn = grpc_event (*)(grpc_completion_queue*, gpr_timespec, void*);
using PluckFn = grpc_event (*)(grpc_completion_queue*, void*, gpr_timespec, void*);
StartBatchFn g_real_start_batch = nullptr;
NextFn g_real_next = nullptr;
PluckFn g_real_pluck = nullptr;

// The real libgrpc function `name`; null in an executable that does not load libgrpc (then nothing
// calls it either).
void* Real(const char* name) { return dlsym(RTLD_NEXT, name); }

[[noreturn]] void Missing(const char* name) {
  std::fprintf(stderr, "grpc_handoff_tsan: %s not found in libgrpc\n", name);
  std::abort();
}

void AddOriginal(FunctorRun fn) {
  if (fn == nullptr) return;
  for (int i = 0; i < g_original_count; ++i) {
    if (g_originals[i] == fn) return;
  }
  if (g_original_count == kMaxOriginals) Missing("room for another callback tag kind");
  g_originals[g_original_count++] = fn;
}

__attribute__((constructor)) void FindRealFunctions() {
  g_real_start_batch = reinterpret_cast<StartBatchFn>(Real("grpc_call_start_batch"));
  g_real_next = reinterpret_cast<NextFn>(Real("grpc_completion_queue_next"));
  g_real_pluck = reinterpret_cast<PluckFn>(Real("grpc_completion_queue_pluck"));
  // Non-virtual member functions: `this` is the first argument (Itanium C++ ABI).
  g_real_schedule_on_done = reinterpret_cast<ScheduleOnDoneFn>(
      Real("_ZN4grpc8internal18ServerCallbackCall14ScheduleOnDoneEb"));
  g_real_call_on_cancel = reinterpret_cast<CallOnCancelFn>(
      Real("_ZN4grpc8internal18ServerCallbackCall12CallOnCancelEPNS0_13ServerReactorE"));
  AddOriginal(RunOf(SuccessTagKind{}));
  AddOriginal(RunOf(StatusTagKind{}));
  AddOriginal(reinterpret_cast<FunctorRun>(dlsym(
      RTLD_DEFAULT,
      "_ZN4grpc8internal22CallbackWithSuccessTag9StaticRunEP29grpc_completion_queue_functori")));
}

// Points a callback tag's `functor_run` at the trampoline for its original, once. A tag whose
// first word is none of the known originals (already a trampoline, or not a functor at all) is
// left alone.
void RouteThroughTrampoline(void* tag) {
  auto* functor = static_cast<grpc_completion_queue_functor*>(tag);
  for (int i = 0; i < g_original_count; ++i) {
    if (functor->functor_run == g_originals[i]) {
      functor->functor_run = kTrampolines[i];
      return;
    }
  }
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  if (g_real_start_batch == nullptr) Missing("grpc_call_start_batch");
  if (tag != nullptr) {
    RouteThroughTrampoline(tag);
    for (size_t i = 0; i < nops; ++i) {
      if (ops[i].op == GRPC_OP_SEND_MESSAGE) {
        ForEachSlice(ops[i].data.send_message.send_message,
                     [](const void* data) { __tsan_release(const_cast<void*>(data)); });
      } else if (ops[i].op == GRPC_OP_RECV_MESSAGE) {
        g_pending_receives.Put(tag, ops[i].data.recv_message.recv_message);
      }
    }
    __tsan_release(tag);
  }
  return g_real_start_batch(call, ops, nops, tag, reserved);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                      void* reserved) {
  if (g_real_next == nullptr) Missing("grpc_completion_queue_next");
  grpc_event event = g_real_next(cq, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE && event.tag != nullptr) {
    __tsan_acquire(event.tag);
    AcquireReceived(event.tag);
  }
  return event;
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag, gpr_timespec deadline,
                                       void* reserved) {
  if (g_real_pluck == nullptr) Missing("grpc_completion_queue_pluck");
  grpc_event event = g_real_pluck(cq, tag, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE && event.tag != nullptr) {
    __tsan_acquire(event.tag);
    AcquireReceived(event.tag);
  }
  return event;
}

}  // extern "C"

namespace grpc {
namespace internal {

// libgrpc++'s ScheduleOnDone runs `this->CallOnDone()` inline when asked to, otherwise on an
// executor thread; so does this one, with the handoff to that thread made visible.
void ServerCallbackCall::ScheduleOnDone(bool inline_ondone) {
  if (inline_ondone) {
    CallOnDone();
    return;
  }
  if (g_real_schedule_on_done == nullptr) Missing("ServerCallbackCall::ScheduleOnDone");
  // Stands in for the call on the executor: acquires what the scheduling thread released, runs
  // the call's real CallOnDone, and frees itself (nothing else refers to it by then).
  class Deferred final : public ServerCallbackCall {
   public:
    explicit Deferred(ServerCallbackCall* call) : call_(call) {}

   private:
    ServerReactor* reactor() override { return nullptr; }  // not asked by ScheduleOnDone
    void CallOnDone() override {
      __tsan_acquire(call_);
      call_->CallOnDone();
      delete this;
    }
    ServerCallbackCall* call_;
  };
  // The last reference may have been dropped inside libgrpc++ (the ServerContext's completion
  // op calls MaybeDone there), whose uninstrumented fetch_sub tsan did not see acquire what every
  // earlier instrumented MaybeDone released on the counter: acquire it here, as that one did.
  __tsan_acquire(&callbacks_outstanding_);
  __tsan_release(this);
  g_real_schedule_on_done(new Deferred(this), false);
}

// libgrpc++'s CallOnCancel runs `reactor->OnCancel()` inline for an inlineable reactor, otherwise
// on an executor thread (then MaybeDone on this call); so does this one, with the handoff visible.
void ServerCallbackCall::CallOnCancel(ServerReactor* reactor) {
  if (reactor->InternalInlineable()) {
    reactor->OnCancel();
    return;
  }
  if (g_real_call_on_cancel == nullptr) Missing("ServerCallbackCall::CallOnCancel");
  // Stands in for the reactor on the executor: acquires, runs the real OnCancel, frees itself
  // (libgrpc++ calls nothing else on it). libgrpc++ then calls MaybeDone on the call, whose
  // uninstrumented decrement releases what OnCancel did: that release is told to tsan here, on
  // the counter's address, where ScheduleOnDone acquires it.
  class Deferred final : public ServerReactor {
   public:
    Deferred(ServerCallbackCall* call, ServerReactor* reactor) : call_(call), reactor_(reactor) {}
    void OnDone() override {}
    void OnCancel() override {
      __tsan_acquire(this);
      reactor_->OnCancel();
      __tsan_release(&call_->callbacks_outstanding_);
      delete this;
    }

   private:
    ServerCallbackCall* call_;
    ServerReactor* reactor_;
  };
  auto* deferred = new Deferred(this, reactor);
  __tsan_acquire(&on_cancel_conditions_remaining_);  // as in ScheduleOnDone
  __tsan_release(deferred);
  g_real_call_on_cancel(this, deferred);
}

}  // namespace internal
}  // namespace grpc
