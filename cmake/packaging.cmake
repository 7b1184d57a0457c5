# install() rules and CPack Debian packages (issue 13 "Ship it"); docs: deploy/debian/README.md.
#   cpack -G DEB --config build/release/CPackConfig.cmake -B /tmp/debs
# gives provenance-server (provd, provctl, the provd unit, default policy and flags, the provd
# system user via sysusers.d, /var/lib/provenance via tmpfiles.d) and provenance-agent (prov-agent,
# its unit and flags) and provenance-landmark (prov-landmark, its unit, user and config).
# Dependencies come from dpkg-shlibdeps on the installed binaries.
include(GNUInstallDirs)

set(PROV_UNIT_DIR lib/systemd/system)
install(TARGETS provd provctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/provd.service DESTINATION ${PROV_UNIT_DIR}
  COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/provenance-server.sysusers
  DESTINATION lib/sysusers.d RENAME provenance-server.conf COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/provenance-server.tmpfiles
  DESTINATION lib/tmpfiles.d RENAME provenance-server.conf COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/policy/default.yaml
  DESTINATION ${CMAKE_INSTALL_DATADIR}/provenance/policy COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/config/provd.flags DESTINATION /etc/provenance
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/threat-model.md
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/provenance-server COMPONENT server)

install(TARGETS prov-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT agent)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/prov-agent.service DESTINATION ${PROV_UNIT_DIR}
  COMPONENT agent)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/config/prov-agent.flags DESTINATION /etc/provenance
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT agent)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/threat-model.md
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/provenance-agent COMPONENT agent)

install(TARGETS prov-landmark RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT landmark)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/prov-landmark.service DESTINATION ${PROV_UNIT_DIR}
  COMPONENT landmark)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/config/prov-landmark.yaml DESTINATION /etc/prov-landmark
  RENAME landmark.yaml PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT landmark)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/provenance-landmark.sysusers
  DESTINATION lib/sysusers.d RENAME provenance-landmark.conf COMPONENT landmark)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/provenance-landmark.tmpfiles
  DESTINATION lib/tmpfiles.d RENAME provenance-landmark.conf COMPONENT landmark)
install(FILES ${CMAKE_SOURCE_DIR}/tools/prov-landmark/README.md ${CMAKE_SOURCE_DIR}/docs/location.md
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/provenance-landmark COMPONENT landmark)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME provenance)
set(CPACK_PACKAGE_VENDOR "Provenance")
set(CPACK_PACKAGE_CONTACT "Provenance maintainers <provenance@example.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server agent landmark)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/provenance/provenance")
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME provenance-server)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME provenance-agent)
set(CPACK_DEBIAN_LANDMARK_PACKAGE_NAME provenance-landmark)
set(CPACK_COMPONENT_SERVER_DESCRIPTION
  "Provenance central service (provd) and CLI (provctl)\n provd ingests prov-agent reports, keeps the compute ledger, correlates split-up\n training runs, screens account holders and raises flags with evidence.")
set(CPACK_COMPONENT_AGENT_DESCRIPTION
  "Provenance node agent (prov-agent)\n Reports which accelerators a GPU node really has and which workloads run on\n them, for which account, to provd.")
set(CPACK_COMPONENT_LANDMARK_DESCRIPTION
  "Provenance location landmark (prov-landmark)\n Probes GPU nodes' agents over UDP from known coordinates and reports signed\n round-trip times to provd, which proves where each node can be.")
set(CPACK_DEBIAN_LANDMARK_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/deploy/debian/landmark/postinst ${CMAKE_SOURCE_DIR}/deploy/debian/landmark/prerm
  ${CMAKE_SOURCE_DIR}/deploy/debian/landmark/postrm ${CMAKE_SOURCE_DIR}/deploy/debian/landmark/conffiles)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/deploy/debian/server/postinst ${CMAKE_SOURCE_DIR}/deploy/debian/server/prerm
  ${CMAKE_SOURCE_DIR}/deploy/debian/server/postrm
  ${CMAKE_SOURCE_DIR}/deploy/debian/server/conffiles)
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/deploy/debian/agent/postinst ${CMAKE_SOURCE_DIR}/deploy/debian/agent/prerm
  ${CMAKE_SOURCE_DIR}/deploy/debian/agent/postrm
  ${CMAKE_SOURCE_DIR}/deploy/debian/agent/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
