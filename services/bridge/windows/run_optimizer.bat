@echo off
REM ==========================================================================================
REM  Heavy Optimizer launcher: submits one optimization job through the shared folder, waits
REM  for it and prints the run folder with the results.
REM
REM    run_optimizer.bat [CSV] [PORTFOLIO_SIZE]
REM
REM    CSV             a CSV file on this computer (it is copied to the share's input folder),
REM                    or the name of a CSV already in the share's input folder.
REM                    Default: DEFAULT_CSV below.
REM    PORTFOLIO_SIZE  a whole number from 10 to 100. Default: DEFAULT_SIZE below.
REM
REM  Exit code: 0 finished, 1 the job failed (the reason is printed), 2 the share or the CSV
REM  could not be used, 3 no result within TIMEOUT_MINUTES.
REM
REM  The share is opened with your own Windows logon: this file holds no secret of any kind.
REM ==========================================================================================
setlocal EnableExtensions DisableDelayedExpansion

REM ---- settings ----------------------------------------------------------------------------
set "SHARE=\\server\optimizer_share"
set "DEFAULT_CSV=Python_Multi_Consolidated_20250726_161921.csv"
set "DEFAULT_SIZE=35"
set "TIMEOUT_MINUTES=15"
set "POLL_SECONDS=3"
REM ------------------------------------------------------------------------------------------

REM UTF-8 output, so that names with accents reach the job file intact (restored at the end).
set "OLD_CP="
for /f "tokens=2 delims=:." %%C in ('chcp') do set "OLD_CP=%%C"
chcp 65001 >nul

set "CSV_ARG=%~1"
if "%CSV_ARG%"=="" set "CSV_ARG=%DEFAULT_CSV%"
set "SIZE=%~2"
if "%SIZE%"=="" set "SIZE=%DEFAULT_SIZE%"
set "RC=2"

REM The portfolio size: a whole number from 10 to 100, without leading zeros.
echo %SIZE%| findstr /r /x "[1-9][0-9]*" >nul || goto :bad_size
if %SIZE% LSS 10 goto :bad_size
if %SIZE% GTR 100 goto :bad_size

REM A CSV on this computer is copied to the share; a bare name must already be there.
set "CSV_LOCAL="
for %%F in ("%CSV_ARG%") do set "CSV_NAME=%%~nxF"
for %%F in ("%CSV_ARG%") do if exist "%%~fF" set "CSV_LOCAL=%%~fF"

REM Open the share with the current Windows logon (Windows asks for nothing when it already
REM knows you), then give it a temporary drive letter for the rest of the script.
if not exist "%SHARE%\jobs\queue\" net use "%SHARE%" /persistent:no
pushd "%SHARE%" || goto :no_share
set "DRIVE=%CD:~0,2%"
if not exist "jobs\queue\" goto :no_queue

if defined CSV_LOCAL echo Copying %CSV_NAME% to %SHARE%\input ...
if defined CSV_LOCAL copy /y "%CSV_LOCAL%" "input\%CSV_NAME%" >nul || goto :no_copy
if not exist "input\%CSV_NAME%" goto :no_csv

REM The job id: job_<random>_<yyyymmdd_hhmmss>.
set "STAMP="
for /f "usebackq delims=" %%T in (`powershell -NoProfile -Command "Get-Date -Format yyyyMMdd_HHmmss" 2^>nul`) do set "STAMP=%%T"
if not defined STAMP set "STAMP=%DATE:~-4%%DATE:~-10,2%%DATE:~-7,2%_%TIME:~0,2%%TIME:~3,2%%TIME:~6,2%"
set "STAMP=%STAMP: =0%"
set "JOB_ID=job_%RANDOM%%RANDOM%_%STAMP%"

REM The job file is written under a .tmp name (the bridge ignores it) and renamed when whole.
set "JOB_TMP=jobs\queue\%JOB_ID%.tmp"
 >"%JOB_TMP%" echo {
>>"%JOB_TMP%" echo   "job_id": "%JOB_ID%",
>>"%JOB_TMP%" echo   "input_file": "%CSV_NAME%",
>>"%JOB_TMP%" echo   "portfolio_size": %SIZE%,
>>"%JOB_TMP%" echo   "job_type": "complete_optimization",
>>"%JOB_TMP%" echo   "timestamp": "%DATE% %TIME%",
>>"%JOB_TMP%" echo   "client_info": {
>>"%JOB_TMP%" echo     "computer_name": "%COMPUTERNAME%",
>>"%JOB_TMP%" echo     "username": "%USERNAME%",
>>"%JOB_TMP%" echo     "drive_letter": "%DRIVE%"
>>"%JOB_TMP%" echo   },
>>"%JOB_TMP%" echo   "execution_mode": "server_side",
>>"%JOB_TMP%" echo   "input_format": "csv_only"
>>"%JOB_TMP%" echo }
ren "%JOB_TMP%" "%JOB_ID%.json" || goto :no_submit

set /a "MAX_POLLS=TIMEOUT_MINUTES*60/POLL_SECONDS"
set /a "PING_COUNT=POLL_SECONDS+1"
set /a "POLLS=0"
set "STATE=waiting in the queue"
echo Job %JOB_ID% submitted: %CSV_NAME%, portfolio size %SIZE%.
echo Waiting for the result, at most %TIMEOUT_MINUTES% minutes ...

:wait
if exist "jobs\completed\%JOB_ID%.json" goto :completed
if exist "jobs\failed\%JOB_ID%.json" goto :failed
if exist "jobs\processing\%JOB_ID%.json" set "STATE=running"
set /a "POLLS+=1"
if %POLLS% GEQ %MAX_POLLS% goto :timeout
set /a "SHOW=POLLS %% 10"
set /a "ELAPSED=POLLS*POLL_SECONDS"
if %SHOW%==0 echo   %STATE% for %ELAPSED% s ...
ping -n %PING_COUNT% 127.0.0.1 >nul
goto :wait

:completed
set "RESULT=jobs\completed\%JOB_ID%.json"
call :field "%RESULT%" output_dir OUTPUT_DIR
call :field "%RESULT%" stdout SUMMARY
echo.
echo Optimization finished.
if defined SUMMARY call :say SUMMARY
if defined OUTPUT_DIR set "OUTPUT_DIR=Run folder: %SHARE%\%OUTPUT_DIR%"
if defined OUTPUT_DIR call :say OUTPUT_DIR
if not defined OUTPUT_DIR type "%RESULT%"
set "RC=0"
goto :end

:failed
set "RESULT=jobs\failed\%JOB_ID%.json"
call :field "%RESULT%" error ERROR_TEXT
echo.
echo The optimization failed.
if defined ERROR_TEXT call :say ERROR_TEXT
if not defined ERROR_TEXT type "%RESULT%"
set "RC=1"
goto :end

:timeout
echo.
echo No result after %TIMEOUT_MINUTES% minutes; the job is still %STATE%.
echo Look for %SHARE%\jobs\completed\%JOB_ID%.json later, or ask the optimizer's operators.
set "RC=3"
goto :end

:bad_size
echo The portfolio size must be a whole number from 10 to 100; you gave "%SIZE%".
goto :end_no_share

:no_share
echo Cannot open %SHARE%: check that you can open it in Explorer, then try again.
goto :end_no_share

:no_queue
echo %SHARE% has no jobs\queue folder: is SHARE at the top of this file right?
goto :end

:no_copy
echo Could not copy %CSV_LOCAL% to %SHARE%\input.
goto :end

:no_csv
echo The CSV %CSV_NAME% is not in %SHARE%\input: give the path of a CSV on this computer.
goto :end

:no_submit
echo Could not write the job file in %SHARE%\jobs\queue.
goto :end

:end
popd
:end_no_share
if defined OLD_CP chcp %OLD_CP% >nul
endlocal & exit /b %RC%

REM call :field FILE NAME VAR - sets VAR to the text field NAME of the JSON file FILE.
:field
set "%~3="
for /f "usebackq delims=" %%V in (`powershell -NoProfile -Command "(Get-Content -Raw -Encoding UTF8 -LiteralPath '%~1' | ConvertFrom-Json).%~2" 2^>nul`) do set "%~3=%%V"
exit /b 0

REM call :say VAR - prints the value of VAR, whatever characters it holds.
:say
setlocal EnableDelayedExpansion
echo(!%~1!
endlocal
exit /b 0
