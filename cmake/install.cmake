# install.cmake - what `cmake --install` (make install PREFIX=...) and the Debian package
# (make package, CPack's DEB generator) put where.
#
# The binary, the docs, the systemd unit and the sysusers.d file go below the prefix
# (GNUInstallDirs). The configuration goes to /etc when the prefix is /usr (the package) and
# to PREFIX/etc otherwise; the unit names the binary and the configuration where they were
# installed. Both are decided when installing, not when configuring, because CPack installs
# with its own prefix (/usr), and `cmake --install --prefix DIR` may name another: so the two
# files are written by install(CODE), with file(INSTALL), which honours DESTDIR.

include(GNUInstallDirs)

install(TARGETS ferry RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md" PATTERN "*.yaml" PATTERN "images" EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/ferry.sysusers DESTINATION lib/sysusers.d
        RENAME ferry.conf)

install(CODE "
    if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
        set(FERRY_ETC_DIR /etc)
    else()
        set(FERRY_ETC_DIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}\")
    endif()
    set(FERRY_BIN_DIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    set(FERRY_DOC_DIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
    string(RANDOM LENGTH 12 FERRY_UNIT_TMP)
    set(FERRY_UNIT_TMP \"${PROJECT_BINARY_DIR}/ferry.service.\${FERRY_UNIT_TMP}\")
    configure_file(\"${PROJECT_SOURCE_DIR}/packaging/ferry.service.in\" \"\${FERRY_UNIT_TMP}/ferry.service\"
                   @ONLY)
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\" TYPE FILE
         FILES \"\${FERRY_UNIT_TMP}/ferry.service\")
    file(REMOVE_RECURSE \"\${FERRY_UNIT_TMP}\")
    file(INSTALL DESTINATION \"\${FERRY_ETC_DIR}/ferry\" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
         FILES \"${PROJECT_SOURCE_DIR}/packaging/ferry.yaml\")
")

# The Debian package: make package (a Release build without the tests, Makefile) or, from any
# build tree, cpack -G DEB --config BUILD/CPackConfig.cmake. Depends comes from the shared
# libraries the binary links (dpkg-shlibdeps, from dpkg-dev).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ferry)
set(CPACK_PACKAGE_VENDOR "Ferry")
set(CPACK_PACKAGE_CONTACT "Ferry maintainers <ferry@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "background data sync server")
set(CPACK_PACKAGE_DESCRIPTION
    "Ferry pulls master data from CSV files, spreadsheets and JSON APIs into SQLite or
PostgreSQL tables, validating and mapping every record, and records what happened to each
record in every run. It serves an HTTP API and an admin page.")
set(CPACK_PACKAGE_INSTALL_DIRECTORY ferry)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# Install with DESTDIR and the prefix /usr, so that install(CODE) above sees the real prefix.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/conffiles ${PROJECT_SOURCE_DIR}/packaging/deb/postinst
    ${PROJECT_SOURCE_DIR}/packaging/deb/prerm ${PROJECT_SOURCE_DIR}/packaging/deb/postrm)
include(CPack)
