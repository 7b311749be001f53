"""The test harness: everything the suites and `make bench` share, beside the suites' own tests.

Driving the Makefile (makefile, makerun, chain), labs and cells in containers (imagelab,
kernel_client, anyuid), the isolation attacks (attack), a browser and the team server as users
(browser, browserlab, hubclient), package indexes served on 127.0.0.1 (indexserver, localcran), and
`make bench` itself (bench). The product never imports it.
"""
