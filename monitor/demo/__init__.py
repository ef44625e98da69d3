"""`newsmon demo`: a local multilingual news site (monitor/demo/site.py) publishing the stories in
monitor/demo/stories/, which the daemon polls and alerts on."""
