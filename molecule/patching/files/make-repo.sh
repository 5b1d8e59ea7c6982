#!/bin/sh
# Build small .deb packages at two versions and two file:// apt repositories:
# "security" (Label Debian-Security, Suite bookworm-security) and "main". Version
# 1.0 of each is installed; 1.1 waits in the repositories. anshin-demo-breaker
# 1.1 (breaks the nginx configuration) is built but only published by the test:
#   make-repo.sh                 build and install 1.0, publish 1.1
#   make-repo.sh publish-staged  publish the staged packages too
set -eu
work=/srv/anshin-apt
index() {  # dir label suite
  (cd "$1" && apt-ftparchive packages . > Packages && \
   apt-ftparchive -o APT::FTPArchive::Release::Label="$2" -o APT::FTPArchive::Release::Suite="$3" \
     -o APT::FTPArchive::Release::Origin=anshin-test release . > Release)
}
if [ "${1:-}" = publish-staged ]; then
  cp $work/staged/*.deb $work/security/
  index $work/security Debian-Security bookworm-security
  exit 0
fi
mkdir -p $work/build $work/security $work/main $work/staged
deb() {  # name version [postinst]
  d=$work/build/$1_$2
  mkdir -p $d/DEBIAN $d/usr/lib/anshin-demo $d/usr/share/doc/$1
  printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: anshin-ops <ops@example.jp>\nDescription: anshin-ops patch test package\n' "$1" "$2" > $d/DEBIAN/control
  echo "$1 $2" > $d/usr/lib/anshin-demo/$1.so.1
  echo "$1 $2" > $d/usr/share/doc/$1/VERSION
  if [ -n "${3:-}" ]; then printf '#!/bin/sh\n%s\n' "$3" > $d/DEBIAN/postinst; chmod 755 $d/DEBIAN/postinst; fi
  dpkg-deb --root-owner-group -b $d $work/build/$1_$2_all.deb >/dev/null
}
for p in anshin-demo-lib anshin-demo-held anshin-demo-tool anshin-demo-breaker; do deb $p 1.0; done
deb anshin-demo-lib 1.1
deb anshin-demo-held 1.1
deb anshin-demo-tool 1.1
deb anshin-demo-breaker 1.1 'echo "this is not nginx syntax" > /etc/nginx/conf.d/zz-anshin-broken.conf'
dpkg -i $work/build/*_1.0_all.deb >/dev/null
cp $work/build/anshin-demo-lib_1.1_all.deb $work/build/anshin-demo-held_1.1_all.deb $work/security/
cp $work/build/anshin-demo-tool_1.1_all.deb $work/main/
cp $work/build/anshin-demo-breaker_1.1_all.deb $work/staged/
index $work/security Debian-Security bookworm-security
index $work/main Debian bookworm
cat > /etc/apt/sources.list.d/anshin-test.list <<LIST
deb [trusted=yes] file:$work/security ./
deb [trusted=yes] file:$work/main ./
LIST
