#!/usr/bin/env bash
# placeholder replaced by the broker work
exit 0
