/* X(name, timeout_seconds): the concurrency cases of conc.c. */
#define CONC_CASES(X)                                                         \
	X(exactly_once_w1, 120)                                               \
	X(exactly_once_w2, 120)                                               \
	X(exactly_once_w4, 120)                                               \
	X(exactly_once_w8, 120)                                               \
	X(exactly_once_w32, 120)                                              \
	X(fork_tree_w1, 60)                                                   \
	X(fork_tree_w2, 60)                                                   \
	X(fork_tree_w4, 60)                                                   \
	X(fork_tree_w32, 60)                                                  \
	X(shutdown_drains, 60)                                                \
	X(shutdown_races_submit, 120)                                         \
	X(shutdown_concurrent, 60)                                            \
	X(shutdown_races_batches, 120)                                        \
	X(batch_large_w2, 60)                                                 \
	X(batch_large_w4, 60)                                                 \
	X(batch_large_w70, 60)                                                \
	X(batch_beside_blocked_and_feeder, 60)                                \
	X(blocked_child_beside_feeder, 60)                                    \
	X(create_destroy_1000, 120)                                           \
	X(ping_pong_park, 60)                                                 \
	X(burst_after_idle, 60)                                               \
	X(burst_lazy_spawn, 120)                                              \
	X(spawn_fail_kth, 60)                                                 \
	X(spawn_fail_all, 30)                                                 \
	X(spawn_fail_intermittent, 120)                                       \
	X(idle_cpu_after_burst, 30)                                           \
	X(for_sizes, 120)                                                     \
	X(for_uneven, 60)                                                     \
	X(for_nested3, 60)                                                    \
	X(for_outside4, 60)                                                   \
	X(for_no_worker, 30)                                                  \
	X(each_items, 30)                                                     \
	X(fib25_w1, 60)                                                       \
	X(fib25_w2, 60)                                                       \
	X(fib25_w4, 60)                                                       \
	X(fib25_w32, 60)                                                      \
	X(wg_tree20_w1, 120)                                                  \
	X(wg_tree20_w2, 120)                                                  \
	X(wg_tree20_w4, 120)                                                  \
	X(wg_tree20_w32, 120)                                                 \
	X(wg_outside_and_worker, 60)                                          \
	X(wg_free_after_wait, 60)                                             \
	X(wg_errors, 10)                                                      \
	X(global_race16, 30)                                                  \
	X(fairness_outside, 60)                                               \
	X(fairness_outside_after_batch, 60)                                   \
	X(fairness_in_helping_wait, 60)                                       \
	X(blocked_owner, 60)                                                  \
	X(blocked_after_helping, 60)                                          \
	X(signals_while_parked, 60)                                           \
	X(overflow_self_feeding, 60)                                          \
	X(oversub_wakes_first_workers, 60)                                    \
	X(wakee_leaves_busy_wakers_cpu, 60)                                  \
	X(spin_takes_push, 30)                                                \
	X(ping_pong_spin, 60)                                                 \
	X(burst_while_spinning, 60)                                           \
	X(shutdown_while_spinning, 60)                                        \
	X(deep_helping_waits, 60)                                              \
	X(deep_waits_for_outside_replies, 120)                                \
	X(deep_waits_without_relays, 60)                                      \
	X(deep_waits_relay_recovers, 60)                                      \
	X(relayed_wait_keeps_thread, 60)

#define CONC_DECL(name, timeout) int t_##name(void);
CONC_CASES(CONC_DECL)
#undef CONC_DECL
