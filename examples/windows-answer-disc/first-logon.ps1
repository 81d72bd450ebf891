Write-Output "first logon on $env:COMPUTERNAME"
