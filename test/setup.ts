// Root hooks for every test file: no real network beyond loopback, no leftover fakes between tests.
import nock from 'nock';

nock.disableNetConnect();
nock.enableNetConnect((host) => /^(127\.0\.0\.1|localhost|\[::1\]|::1)(:\d+)?$/.test(host));

export const mochaHooks = {
  afterEach() {
    nock.cleanAll();
  },
};
