# ctest helper: dump the binary's route table, compare it with the OpenAPI file.
execute_process(COMMAND ${BIN} routes OUTPUT_FILE ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "rectify routes failed: ${rc}")
endif()
execute_process(COMMAND ${PY} ${SRC}/tests/spec/check_routes.py ${SRC}/api-spec/openapi.yaml ${OUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "route table and api-spec/openapi.yaml disagree")
endif()
