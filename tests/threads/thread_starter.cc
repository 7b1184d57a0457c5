// Starts one thread and joins it: what no_threads_guard_test runs with and without the guard.
#include <cstdio>
#include <thread>

int main() {
  std::thread t([] {});
  t.join();
  std::printf("joined\n");
  return 0;
}
