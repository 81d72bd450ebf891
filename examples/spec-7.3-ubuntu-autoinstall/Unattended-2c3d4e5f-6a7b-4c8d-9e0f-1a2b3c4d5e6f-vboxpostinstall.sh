#!/bin/sh
# Post-install step run inside the installed system.
echo "post-install done on $(hostname)" > /root/post-install.log
