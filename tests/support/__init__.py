"""What the suites in tests/ share, a module a concern; no test module is
another's library, and bench/ takes its helpers from here too.

- project: the project's folders, the app's settings in the environment,
  and the programs a suite needs (or its skip);
- cookies: session cookies forged, read and sent, and a page's count;
- wsgi: one request straight to the app;
- wsgi_echo: a WSGI app that shows what a server handed it;
- processes: ports, sockets, children and memory of what tests start;
- servers: a real `pserve` on a copy of an ini file;
- visitors: pages over real sockets, one at a time or many at once;
- bad_input: the requests no page can read;
- tls: certificates made for the run;
- redis_servers: a real redis-server;
- redis_topologies: sentinels watching a master, and a cluster;
- fault_proxy: a proxy before a real Redis that gives a network's faults;
- nginx: deploy/nginx's block in front of a server;
- browser: Debian's Chromium, and screenshots;
- containers: podman with the tests' own containers.conf, and the base
  images made with debootstrap (images/: the stand-ins for the official
  Redis and nginx images);
- kubernetes: deploy/kubernetes read as kubectl reads it, and played by
  podman;
- checkov: checkov, in a virtual environment of its own.
"""
