// Rate limits no test reaches, for servers whose tests are about something else: every test
// registers and logs in its users from 127.0.0.1, and some seed long histories faster than a
// person types. The tests of the limits start servers of their own (and the Rust tests cover
// the per-user post budget).
export const RELAXED_LIMITS: Record<string, string> = {
  CONFAB_LOGIN_RATE_PER_IP: '1000000/s',
  CONFAB_LOGIN_RATE_PER_ACCOUNT: '1000000/s',
  CONFAB_REGISTER_RATE_PER_IP: '1000000/s',
  CONFAB_CREATE_RATE_PER_USER: '1000000/s',
  CONFAB_POST_RATE_PER_USER: '1000000/s',
  CONFAB_SEARCH_RATE_PER_USER: '1000000/s',
  CONFAB_READ_RATE_PER_USER: '1000000/s',
  // Every test's browser connects from 127.0.0.1.
  CONFAB_MAX_SOCKETS_PER_IP: '0',
};
