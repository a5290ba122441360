// util/interrupt: cooperative stopping of long runs. While a StopOnSignal is alive, SIGINT and
// SIGTERM only set a flag (the handler does nothing else: it must be async-signal-safe); the run's
// loop polls stop_requested() between steps, writes its checkpoint and returns. A second signal
// after the first restores the default action, so a stuck run can still be killed with ^C ^C.
#pragma once

namespace hyb {

class StopOnSignal {
 public:
  StopOnSignal();   // installs the handlers and clears the flag
  ~StopOnSignal();  // restores the previous handlers
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  static bool stop_requested();
  static int signal_number();  // the signal that asked to stop (0: none)
  static void request_stop();  // the same as a signal (tests, other threads)
};

}  // namespace hyb
